import { and, asc, eq, gt, sql } from "drizzle-orm";
import type { Db } from "../db/database.ts";
import { type EventRow, events, topicHeads } from "../db/schema.ts";

/** An event as streams and the bus carry it. */
export interface StoredEvent {
  topic: string;
  sequence: number;
  key: string;
  payload: Uint8Array;
  /** When the bus published it (ms since the epoch, the publisher's clock); unset when read from the table. */
  publishedAt?: number;
}

/**
 * Appends an event to `topic` inside the caller's transaction and returns it with its
 * sequence. Call it last in the transaction: the topic's head row stays locked until commit,
 * which is what keeps the topic's commits in sequence order.
 */
export async function appendEvent(
  tx: Db,
  topic: string,
  key: string,
  payload: Uint8Array,
): Promise<StoredEvent> {
  const [head] = await tx
    .insert(topicHeads)
    .values({ topic, sequence: 1 })
    .onConflictDoUpdate({ target: topicHeads.topic, set: { sequence: sql`${topicHeads.sequence} + 1` } })
    .returning({ sequence: topicHeads.sequence });
  if (!head) throw new Error("topic head returned no row");
  await tx.insert(events).values({ topic, sequence: head.sequence, key, payload });
  return { topic, sequence: head.sequence, key, payload };
}

export interface EventPageQuery {
  topic: string;
  after: number;
  /** Only events with this key; undefined for all. */
  key?: string | undefined;
  limit: number;
}

/** Events of a topic after a sequence, in order: one page of a replay. */
export async function readEvents(db: Db, q: EventPageQuery): Promise<StoredEvent[]> {
  const where = [eq(events.topic, q.topic), gt(events.sequence, q.after)];
  if (q.key !== undefined) where.push(eq(events.key, q.key));
  const rows = await db
    .select()
    .from(events)
    .where(and(...where))
    .orderBy(asc(events.sequence))
    .limit(q.limit);
  return rows.map(toStored);
}

/** The last sequence of a topic (0 when it has none): where a live-only subscriber starts. */
export async function headSequence(db: Db, topic: string): Promise<number> {
  const [row] = await db.select().from(topicHeads).where(eq(topicHeads.topic, topic));
  return row?.sequence ?? 0;
}

function toStored(row: EventRow): StoredEvent {
  return { topic: row.topic, sequence: row.sequence, key: row.key, payload: new Uint8Array(row.payload) };
}
