import { type Timestamp, timestampDate } from "@bufbuild/protobuf/wkt";
import type { ConnectError } from "@connectrpc/connect";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import type { User } from "../../gen/switchboard/v1/user_pb.js";
import { ActingUserProvider, actingUserOf, useActingUser } from "./acting-user.tsx";
import { ApiProvider, useApi } from "./api.tsx";
import { NotificationTray } from "./components/notification-tray.tsx";
import { UserPicker } from "./components/user-picker.tsx";
import { ChatPage } from "./pages/chat-page.tsx";
import { OrdersPage } from "./pages/orders-page.tsx";
import { ProfilePage } from "./pages/profile-page.tsx";
import { SignInPage } from "./pages/sign-in-page.tsx";
import { UsersPage } from "./pages/users-page.tsx";
import { initialProtocol, type Protocol, protocols, saveProtocol } from "./protocol.ts";
import { Link, navigate, usePath } from "./router.tsx";
import {
  isAdmin,
  roleLabel,
  type Session,
  SessionProvider,
  type SessionState,
  useSession,
} from "./session.tsx";
import { rememberUser } from "./user-names.ts";

/** setTimeout's longest delay; a session longer than that is checked again when it fires. */
const maxTimerMs = 2 ** 31 - 1;

export function App() {
  const [protocol, setProtocol] = useState<Protocol>(initialProtocol);
  const [session, setSession] = useState<Session | null>(null);
  // Counts sign-ins: what is behind the sign-in remounts per sign-in, not per token (a
  // password change renews the token and keeps the page as it is).
  const [signIns, setSignIns] = useState(0);
  const [endReason, setEndReason] = useState<string>();
  const current = useRef<Session | null>(null);
  current.current = session;

  const choose = (next: Protocol) => {
    saveProtocol(next);
    setProtocol(next);
  };
  const signOut = useCallback((reason?: string) => {
    current.current = null;
    setSession(null);
    setEndReason(reason);
  }, []);
  // The token whose user is setting their own password: its refusals are expected.
  const renewingToken = useRef<string | null>(null);
  // A call answered UNAUTHENTICATED: the token expired, its user was deleted, or the server's
  // key changed. Only the session that made the call ends (not one signed in since).
  const onUnauthenticated = useCallback(
    (token: string, error: ConnectError) => {
      if (current.current?.token !== token || renewingToken.current === token) return;
      signOut(`Your session has ended (${error.rawMessage}). Sign in again.`);
    },
    [signOut],
  );
  const updateUser = useCallback((user: User) => {
    setSession((s) => (s?.user?.id === user.id ? { ...s, user } : s));
  }, []);
  const renewing = useCallback(
    async <T extends { token: string; expireTime?: Timestamp }>(setPassword: () => Promise<T>) => {
      const old = current.current;
      renewingToken.current = old?.token ?? null;
      try {
        const res = await setPassword();
        if (res.token && old && current.current === old) {
          const next = {
            ...old,
            token: res.token,
            expiresAt: res.expireTime && timestampDate(res.expireTime),
          };
          // Calls still in flight with the old token that now fail must not sign this session out.
          current.current = next;
          setSession(next);
        }
        return res;
      } finally {
        renewingToken.current = null;
      }
    },
    [],
  );

  // The token's own expiry signs out on time, even on a page that makes no calls.
  useEffect(() => {
    const expiresAt = session?.expiresAt;
    if (!expiresAt) return;
    let timer: ReturnType<typeof setTimeout>;
    const check = () => {
      const left = expiresAt.getTime() - Date.now();
      if (left <= 0) signOut("Your session expired. Sign in again.");
      else timer = setTimeout(check, Math.min(left, maxTimerMs));
    };
    check();
    return () => clearTimeout(timer);
  }, [session?.expiresAt, signOut]);

  if (!session) {
    return (
      <SignInPage
        protocol={protocol}
        reason={endReason}
        onSignedIn={(s) => {
          setEndReason(undefined);
          setSignIns((n) => n + 1);
          setSession(s);
        }}
      />
    );
  }
  return (
    <SignedIn
      key={signIns}
      session={session}
      protocol={protocol}
      onProtocol={choose}
      signOut={signOut}
      updateUser={updateUser}
      renewing={renewing}
      onUnauthenticated={onUnauthenticated}
    />
  );
}

interface SignedInProps {
  session: Session;
  protocol: Protocol;
  onProtocol(p: Protocol): void;
  signOut(reason?: string): void;
  updateUser(user: User): void;
  renewing: SessionState["renewing"];
  onUnauthenticated(token: string, error: ConnectError): void;
}

/**
 * Everything behind the sign-in: remounted per sign-in, so no state or stream outlives one.
 * A renewed token rebuilds the API clients (api.tsx), and live views reconnect with it.
 */
function SignedIn({
  session,
  protocol,
  onProtocol,
  signOut,
  updateUser,
  renewing,
  onUnauthenticated,
}: SignedInProps) {
  const { token } = session;
  const unauthenticated = useCallback(
    (error: ConnectError) => onUnauthenticated(token, error),
    [onUnauthenticated, token],
  );
  const value = useMemo(
    () => ({ session, signOut, updateUser, renewing }),
    [session, signOut, updateUser, renewing],
  );
  return (
    <SessionProvider value={value}>
      <ApiProvider protocol={protocol} token={token} onUnauthenticated={unauthenticated}>
        <ActingUserProvider>
          <Shell protocol={protocol} onProtocol={onProtocol} />
        </ActingUserProvider>
      </ApiProvider>
    </SessionProvider>
  );
}

type Route =
  | { page: "users" }
  | { page: "account" }
  | { page: "orders" }
  | { page: "chat"; room: string }
  | { page: "missing" };

function route(path: string): Route {
  if (path === "/" || path === "/users") return { page: "users" };
  if (path === "/account") return { page: "account" };
  if (path === "/orders") return { page: "orders" };
  if (path === "/chat" || path === "/chat/") return { page: "chat", room: "general" };
  const room = /^\/chat\/([^/]+)$/.exec(path)?.[1];
  if (room !== undefined) return { page: "chat", room: decodeURIComponent(room) };
  return { page: "missing" };
}

function Shell({ protocol, onProtocol }: { protocol: Protocol; onProtocol(p: Protocol): void }) {
  const path = usePath();
  const { session } = useSession();
  const admin = isAdmin(session);
  let current = route(path);
  // A user's Users page is their own profile.
  if (!admin && current.page === "users") current = { page: "account" };
  const api = useApi();
  const acting = useActingUser();
  return (
    <div className="app">
      <header className="topbar">
        <Link to={admin ? "/users" : "/account"} className="brand">
          <svg viewBox="0 0 32 32" width="24" height="24" aria-hidden="true">
            <rect width="32" height="32" rx="8" fill="currentColor" />
            <path d="M9 11h14M9 16h9M9 21h12" stroke="#fff" strokeWidth="2.5" strokeLinecap="round" />
          </svg>
          Switchboard
        </Link>
        <nav aria-label="Main" className="mainnav">
          {admin ? (
            <Link to="/users" current={current.page === "users"}>
              Users
            </Link>
          ) : (
            <Link to="/account" current={current.page === "account"}>
              Profile
            </Link>
          )}
          <Link to="/orders" current={current.page === "orders"}>
            Orders
          </Link>
          <Link to="/chat/general" current={current.page === "chat"}>
            Chat
          </Link>
        </nav>
        <div className="topbar-tools">
          {acting.canChoose && (
            <UserPicker
              label="Acting as"
              className="picker-inline"
              placeholder="Choose a user"
              value={acting.user}
              onChange={(user) => {
                rememberUser(api, user);
                acting.setUser(actingUserOf(user));
              }}
            />
          )}
          <div className="protocol">
            <label htmlFor="protocol">Protocol</label>
            <select id="protocol" value={protocol} onChange={(e) => onProtocol(e.target.value as Protocol)}>
              {protocols.map((p) => (
                <option key={p.id} value={p.id}>
                  {p.label}
                </option>
              ))}
            </select>
          </div>
          <NotificationTray />
          <SessionMenu />
        </div>
      </header>
      <main className="content">
        {current.page === "users" && <UsersPage />}
        {current.page === "account" && <ProfilePage />}
        {current.page === "orders" && <OrdersPage />}
        {current.page === "chat" && <ChatPage room={current.room} />}
        {current.page === "missing" && (
          <div className="page">
            <h1>Page not found</h1>
            <p>
              There is nothing at <code>{path}</code>.{" "}
              <button
                type="button"
                className="button button-small"
                onClick={() => navigate(admin ? "/users" : "/account")}
              >
                {admin ? "Go to Users" : "Go to your profile"}
              </button>
            </p>
          </div>
        )}
      </main>
    </div>
  );
}

/** Who is signed in, in what role, and the way out. */
function SessionMenu() {
  const { session, signOut } = useSession();
  const name = session.user?.name ?? "Admin token";
  return (
    <section className="session" aria-label="Signed in">
      <span className="session-who">
        {session.user ? (
          <Link to="/account" className="session-name truncate" title={`${name} (${session.user.email})`}>
            {name}
          </Link>
        ) : (
          <span className="session-name">{name}</span>
        )}
        <span className={`role-badge role-${roleLabel(session.role).toLowerCase()}`}>
          {roleLabel(session.role)}
        </span>
      </span>
      <button type="button" className="button button-small" onClick={() => signOut()}>
        Sign out
      </button>
    </section>
  );
}
