import { type Timestamp, timestampDate } from "@bufbuild/protobuf/wkt";

const time = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dateTime = new Intl.DateTimeFormat(undefined, {
  month: "short",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
});

export function formatTime(ts: Timestamp | undefined): string {
  return ts ? time.format(timestampDate(ts)) : "";
}

export function formatDateTime(ts: Timestamp | undefined): string {
  return ts ? dateTime.format(timestampDate(ts)) : "";
}

/** A UUID's last block: enough to tell rows apart at a glance. */
export function shortId(id: string): string {
  return id.slice(-8);
}

export const count = new Intl.NumberFormat();
