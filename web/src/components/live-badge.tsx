import type { LiveStatus } from "../live-stream.ts";

const labels: Record<LiveStatus["state"], string> = {
  idle: "Off",
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  paused: "Paused",
  failed: "Failed",
};

/** The state of one live stream, announced politely; `name` says which stream it is. */
export function LiveBadge({ name, status }: { name: string; status: LiveStatus }) {
  return (
    <span
      role="status"
      aria-label={name}
      className={`live-badge live-${status.state}`}
      title={status.detail ? `${name}: ${status.detail}` : name}
    >
      <span className="live-dot" aria-hidden="true" />
      {labels[status.state]}
    </span>
  );
}
