import { and, asc, eq, gt, sql } from "drizzle-orm";
import type { Db } from "../db/database.ts";
import { oncePerHandle } from "../db/prepared.ts";
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
  const rows =
    q.key === undefined
      ? await eventsAfter(db).execute({ topic: q.topic, after: q.after, limit: q.limit })
      : await eventsOfKeyAfter(db).execute({ topic: q.topic, key: q.key, after: q.after, limit: q.limit });
  return rows.map(toStored);
}

// Every stream's replay and catch-up runs these: built once, not once per page (Drizzle's
// builder allocated tens of KB per Subscribe, measured under a flood of new streams).
const eventsAfter = oncePerHandle((db) =>
  db
    .select()
    .from(events)
    .where(and(eq(events.topic, sql.placeholder("topic")), gt(events.sequence, sql.placeholder("after"))))
    .orderBy(asc(events.sequence))
    .limit(sql.placeholder("limit"))
    .prepare("events_after"),
);
const eventsOfKeyAfter = oncePerHandle((db) =>
  db
    .select()
    .from(events)
    .where(
      and(
        eq(events.topic, sql.placeholder("topic")),
        gt(events.sequence, sql.placeholder("after")),
        eq(events.key, sql.placeholder("key")),
      ),
    )
    .orderBy(asc(events.sequence))
    .limit(sql.placeholder("limit"))
    .prepare("events_of_key_after"),
);

/** The last sequence of a topic (0 when it has none): where a live-only subscriber starts. */
export async function headSequence(db: Db, topic: string): Promise<number> {
  const [row] = await topicHead(db).execute({ topic });
  return row?.sequence ?? 0;
}

const topicHead = oncePerHandle((db) =>
  db
    .select()
    .from(topicHeads)
    .where(eq(topicHeads.topic, sql.placeholder("topic")))
    .prepare("topic_head"),
);

function toStored(row: EventRow): StoredEvent {
  return { topic: row.topic, sequence: row.sequence, key: row.key, payload: new Uint8Array(row.payload) };
}
