import { useCallback, useEffect, useRef, useState } from "react";
import type { User } from "../../../gen/switchboard/v1/user_pb.js";
import { actingUserOf, useActingUser } from "../acting-user.tsx";
import { useApi } from "../api.tsx";
import { ConfirmDialog } from "../components/confirm-dialog.tsx";
import { Notice, type NoticeValue } from "../components/notice.tsx";
import { UserForm } from "../components/user-form.tsx";
import { type Column, VirtualTable } from "../components/virtual-table.tsx";
import { describeError } from "../errors.ts";
import { count, formatDateTime } from "../format.ts";
import { roleLabel, useSession } from "../session.tsx";
import { appendNew, type LocalChanges, withChanges } from "../user-list-changes.ts";
import { rememberUser } from "../user-names.ts";

/** Rows per database round trip on the server; the browser receives one message per user. */
const pageSize = 1000;
/** How often streamed users are handed to React while a large list arrives. */
const batchMs = 50;

/**
 * Every user matching `query`, read through the ListUsers stream and rendered in batches, so
 * the first rows show at once and 10,000 users arrive without freezing the page. Users saved
 * or deleted on the page while the list loads (`saved`, `deleted`) stay so: the stream may
 * have read the table before the change.
 */
function useUserList(query: string) {
  const api = useApi();
  const [users, setUsers] = useState<User[]>([]);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string>();
  // The query whose rows are shown: until its first rows arrive, the previous query's stay.
  const [shown, setShown] = useState<string | null>(null);
  // Since the current query's stream began; its first rows replace the previous query's.
  const local = useRef<LocalChanges>(new Map());

  useEffect(() => {
    const controller = new AbortController();
    const changes: LocalChanges = new Map();
    local.current = changes;
    let batch: User[] = [];
    let first = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const flush = () => {
      timer = undefined;
      const arrived = batch;
      batch = [];
      const replace = first;
      first = false;
      if (replace) setShown(query);
      setUsers((prev) => withChanges(replace ? arrived : appendNew(prev, arrived), changes, query));
    };
    setLoading(true);
    setError(undefined);
    void (async () => {
      try {
        const request = query ? { pageSize, query } : { pageSize };
        for await (const res of api.users.listUsers(request, { signal: controller.signal })) {
          if (res.user) batch.push(res.user);
          timer ??= setTimeout(flush, batchMs);
        }
        clearTimeout(timer);
        flush();
        setLoading(false);
      } catch (err) {
        if (controller.signal.aborted) return;
        clearTimeout(timer);
        flush();
        setError(describeError(err));
        setLoading(false);
      }
    })();
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, [api, query]);

  // A change goes to the list shown now, and is kept for rows of this query still to come.
  const change = useCallback(
    (id: string, user: User | null) => {
      local.current.set(id, user);
      setUsers((prev) => withChanges(prev, new Map([[id, user]]), query));
    },
    [query],
  );
  const saved = useCallback((user: User) => change(user.id, user), [change]);
  const deleted = useCallback((id: string) => change(id, null), [change]);

  return { users, saved, deleted, loading, error, current: shown === query };
}

function initials(name: string): string {
  return name
    .split(/\s+/)
    .filter(Boolean)
    .slice(0, 2)
    .map((part) => part[0]?.toUpperCase())
    .join("");
}

export function UsersPage() {
  const api = useApi();
  const acting = useActingUser();
  const { updateUser } = useSession();
  const [search, setSearch] = useState("");
  const [debounced, setDebounced] = useState("");
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(search.trim()), 200);
    return () => clearTimeout(timer);
  }, [search]);
  const list = useUserList(debounced);
  const { users, loading, error } = list;
  // The rows shown are about to be replaced: a search typed, or its answer not in yet.
  const replacing = search.trim() !== debounced || !list.current;
  const [editing, setEditing] = useState<User | null>(null);
  const [deleting, setDeleting] = useState<User | null>(null);
  const [deleteBusy, setDeleteBusy] = useState(false);
  const [notice, setNotice] = useState<NoticeValue | null>(null);
  const [highlight, setHighlight] = useState<string>();

  const saved = useCallback(
    (user: User, created: boolean) => {
      rememberUser(api, user);
      list.saved(user);
      setHighlight(user.id);
      setEditing(null);
      setNotice({ kind: "ok", text: created ? `Created ${user.name}.` : `Saved ${user.name}.` });
      if (acting.user?.id === user.id) acting.setUser(actingUserOf(user));
      updateUser(user);
    },
    [api, acting, list.saved, updateUser],
  );

  const confirmDelete = async () => {
    if (!deleting) return;
    setDeleteBusy(true);
    try {
      await api.users.deleteUser({ id: deleting.id });
      list.deleted(deleting.id);
      if (editing?.id === deleting.id) setEditing(null);
      if (acting.user?.id === deleting.id) acting.setUser(null);
      setNotice({ kind: "ok", text: `Deleted ${deleting.name}.` });
    } catch (err) {
      setNotice({ kind: "error", text: `Could not delete ${deleting.name}: ${describeError(err)}` });
    } finally {
      setDeleteBusy(false);
      setDeleting(null);
    }
  };

  const columns: Column<User>[] = [
    {
      header: "Name",
      width: "minmax(0, 1.6fr)",
      render: (u) => (
        <span className="person">
          <span className="avatar" aria-hidden="true">
            {initials(u.name)}
          </span>
          <span className="truncate">{u.name}</span>
        </span>
      ),
    },
    {
      header: "Email",
      width: "minmax(0, 2fr)",
      render: (u) => <span className="truncate muted">{u.email}</span>,
    },
    { header: "Age", width: "64px", align: "end", render: (u) => u.age },
    {
      header: "Role",
      width: "84px",
      render: (u) => (
        <span className={`role-badge role-${roleLabel(u.role).toLowerCase()}`}>{roleLabel(u.role)}</span>
      ),
    },
    {
      header: "Created",
      width: "128px",
      render: (u) => <span className="muted">{formatDateTime(u.createTime)}</span>,
    },
    {
      header: "Actions",
      width: "148px",
      align: "end",
      render: (u) => (
        <span className="row-actions">
          <button
            type="button"
            className="button button-small"
            aria-label={`Edit ${u.name}`}
            onClick={() => setEditing(u)}
          >
            Edit
          </button>
          <button
            type="button"
            className="button button-small button-quiet-danger"
            aria-label={`Delete ${u.name}`}
            onClick={() => setDeleting(u)}
          >
            Delete
          </button>
        </span>
      ),
    },
  ];

  return (
    <div className="page">
      <header className="page-header">
        <div>
          <h1>Users</h1>
          <p className="page-subtitle">Create, edit and find the people who place orders and chat.</p>
        </div>
      </header>
      <div className="split">
        <section className="card card-fill" aria-labelledby="users-list-title">
          <div className="card-toolbar">
            <h2 id="users-list-title">Directory</h2>
            <input
              type="search"
              className="search"
              aria-label="Search users"
              placeholder="Search by name or email"
              value={search}
              onChange={(e) => setSearch(e.target.value)}
            />
            <span className="count" aria-live="polite">
              {loading
                ? "Loading…"
                : `${count.format(users.length)} ${users.length === 1 ? "user" : "users"}`}
            </span>
          </div>
          {error && (
            <p role="alert" className="alert">
              {error}
            </p>
          )}
          <VirtualTable
            label="Users"
            rows={users}
            columns={columns}
            rowKey={userKey}
            highlight={highlight}
            busy={replacing}
            empty={
              loading
                ? "Loading users…"
                : debounced
                  ? `No users match “${debounced}”.`
                  : "No users yet: create the first one."
            }
          />
        </section>
        <aside className="card form-card" aria-labelledby="user-form-title">
          <UserForm
            key={editing?.id ?? "new"}
            editing={editing}
            admin
            onSaved={saved}
            onCancel={() => setEditing(null)}
          />
          <Notice notice={notice} />
        </aside>
      </div>
      <ConfirmDialog
        title="Delete user"
        open={deleting !== null}
        confirmLabel="Delete"
        busy={deleteBusy}
        onConfirm={confirmDelete}
        onCancel={() => setDeleting(null)}
      >
        <p>
          Delete <strong>{deleting?.name}</strong> ({deleting?.email})? This cannot be undone.
        </p>
      </ConfirmDialog>
    </div>
  );
}

const userKey = (u: User) => u.id;
