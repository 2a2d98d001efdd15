import { useEffect, useId, useRef, useState } from "react";
import type { Notification } from "../../../gen/switchboard/v1/notification_pb.js";
import { type ActingUser, useActingUser } from "../acting-user.tsx";
import { useApi } from "../api.tsx";
import { formatDateTime } from "../format.ts";
import { unwrap, useLiveStream } from "../live-stream.ts";
import { LiveBadge } from "./live-badge.tsx";

/**
 * The acting user's notifications (an order's status change notifies its customer): a user's
 * own (user_id empty), or those of whom an admin acts as.
 */
export function NotificationTray() {
  const { user, requestUserId } = useActingUser();
  if (!user) {
    return (
      <button type="button" className="tray-button" disabled title="Choose who you are to see notifications">
        <BellIcon />
        Notifications
      </button>
    );
  }
  return <Tray key={user.id} user={user} requestUserId={requestUserId} />;
}

function readKey(userId: string): string {
  return `switchboard.notificationsRead.${userId}`;
}

/** The last sequence this browser marked read (0 if none, or if storage holds nonsense). */
function storedSequence(key: string): bigint {
  const raw = localStorage.getItem(key) ?? "0";
  return /^\d+$/.test(raw) ? BigInt(raw) : 0n;
}

function Tray({ user, requestUserId }: { user: ActingUser; requestUserId: string }) {
  const api = useApi();
  const panelId = useId();
  const root = useRef<HTMLDivElement>(null);
  const [items, setItems] = useState<Notification[]>([]);
  const [open, setOpen] = useState(false);
  const [readUpTo, setReadUpTo] = useState(() => storedSequence(readKey(user.id)));

  const status = useLiveStream<Notification>({
    open: (after, signal) =>
      unwrap(
        api.notifications.subscribeNotifications(
          { userId: requestUserId, afterSequence: after ?? 0n },
          { signal },
        ),
        "notification",
      ),
    sequenceOf: (n) => n.sequence,
    onItems: (batch) => setItems((prev) => prev.concat(batch)),
    initialCursor: 0n,
  });

  const unread = items.filter((n) => n.sequence > readUpTo).length;
  const markRead = () => {
    const last = items.at(-1)?.sequence ?? readUpTo;
    localStorage.setItem(readKey(user.id), last.toString());
    setReadUpTo(last);
  };

  useEffect(() => {
    if (!open) return;
    const onDown = (e: PointerEvent) => {
      if (root.current && !root.current.contains(e.target as Node)) setOpen(false);
    };
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") setOpen(false);
    };
    document.addEventListener("pointerdown", onDown);
    document.addEventListener("keydown", onKey);
    return () => {
      document.removeEventListener("pointerdown", onDown);
      document.removeEventListener("keydown", onKey);
    };
  }, [open]);

  return (
    <div className="tray" ref={root}>
      <button
        type="button"
        className="tray-button"
        aria-expanded={open}
        aria-controls={panelId}
        title={`Notifications for ${user.name}`}
        onClick={() => setOpen((o) => !o)}
      >
        <BellIcon />
        Notifications
        {unread > 0 && (
          <span className="tray-count">
            {unread}
            <span className="visually-hidden"> unread</span>
          </span>
        )}
        <span className={`tray-dot live-${status.state}`} aria-hidden="true" />
      </button>
      <div id={panelId} role="dialog" aria-label="Notifications" className="tray-panel" hidden={!open}>
        <div className="tray-head">
          <strong>Notifications</strong>
          <LiveBadge name="Notifications feed" status={status} />
        </div>
        {items.length === 0 ? (
          <p className="tray-empty">Nothing yet. Order updates for {user.name} appear here.</p>
        ) : (
          <ul className="tray-list" aria-label={`Notifications for ${user.name}`}>
            {[...items].reverse().map((n) => (
              <li key={n.id} className={n.sequence > readUpTo ? "is-unread" : undefined}>
                <div className="tray-title">{n.title}</div>
                <div className="tray-body">{n.body}</div>
                <time className="muted">{formatDateTime(n.createTime)}</time>
              </li>
            ))}
          </ul>
        )}
        <div className="tray-foot">
          <button type="button" className="button button-small" onClick={markRead} disabled={unread === 0}>
            Mark all read
          </button>
        </div>
      </div>
    </div>
  );
}

function BellIcon() {
  return (
    <svg viewBox="0 0 20 20" width="16" height="16" aria-hidden="true" className="icon">
      <path
        d="M10 2.5a5 5 0 0 0-5 5v2.8l-1.3 2.6a.6.6 0 0 0 .5.9h11.6a.6.6 0 0 0 .5-.9L15 10.3V7.5a5 5 0 0 0-5-5Zm-2 13a2 2 0 0 0 4 0"
        fill="none"
        stroke="currentColor"
        strokeWidth="1.5"
        strokeLinecap="round"
        strokeLinejoin="round"
      />
    </svg>
  );
}
