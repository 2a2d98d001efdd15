import { sql } from "drizzle-orm";
import type { Db } from "../db/database.ts";
import { rowsOf } from "../db/rows.ts";
import { type ChatMessageRow, chatMessages, events, topicHeads } from "../db/schema.ts";
import type { StoredEvent } from "./event-store.ts";

/** A message to store, and the event it becomes (its sequence is the room's next). */
export interface ChatPost {
  message: Omit<ChatMessageRow, "sequence">;
  event: { topic: string; key: string; payload: Uint8Array };
}

/**
 * Stores a chat message and appends its event to the room's topic, in one statement. The
 * topic's head row is locked from the sequence's increment to the commit, and every post to
 * the room waits for that lock: done in one statement, it is held while PostgreSQL runs it,
 * not across round trips to a server whose event loop may be busy writing to a thousand
 * streams (with one statement each, a busy room took seconds per post). Run outside a
 * transaction it commits at once; inside one, it must be the transaction's last statement,
 * as appendEvent says.
 */
export async function postChatMessage(db: Db, post: ChatPost): Promise<StoredEvent> {
  const { message: m, event: e } = post;
  const result: unknown = await db.execute(sql`
    with head as (
      insert into ${topicHeads} (topic, sequence) values (${e.topic}, 1)
      on conflict (topic) do update set sequence = ${topicHeads}.sequence + 1
      returning sequence
    ), event as (
      insert into ${events} (topic, sequence, key, payload)
      select ${e.topic}, sequence, ${e.key}, ${e.payload}::bytea from head
    ), message as (
      insert into ${chatMessages} (id, room, sequence, user_id, content, create_time)
      select ${m.id}::uuid, ${m.room}, sequence, ${m.userId}::uuid, ${m.content}, ${m.createTime.toISOString()}::timestamptz
      from head
    )
    select sequence from head`);
  const rows = rowsOf<{ sequence: number | string }>(result);
  const [head] = rows;
  if (!head) throw new Error("topic head returned no row");
  return { topic: e.topic, sequence: Number(head.sequence), key: e.key, payload: e.payload };
}
