/** The outcome of the last action on a page: announced politely, or as an alert when it failed. */
export interface NoticeValue {
  kind: "ok" | "error";
  text: string;
}

export function Notice({ notice }: { notice: NoticeValue | null }) {
  if (!notice) return null;
  return (
    <p role={notice.kind === "error" ? "alert" : "status"} className={`notice notice-${notice.kind}`}>
      {notice.text}
    </p>
  );
}
