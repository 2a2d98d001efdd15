import { Code, ConnectError } from "@connectrpc/connect";
import type { EventBus } from "./bus/event-bus.ts";
import type { Db } from "./db/database.ts";
import type { Gate } from "./gate.ts";
import { headSequence, readEvents, type StoredEvent } from "./stores/event-store.ts";

export interface FeedOptions {
  db: Db;
  bus: EventBus;
  topic: string;
  /** Deliver events after this sequence (the client's resume cursor). */
  after: number;
  /** Only events with this key (e.g. one user's orders); undefined for all. */
  key?: string | undefined;
  /** Ends the feed (the call's signal). */
  signal: AbortSignal;
  /** Live events held for a consumer that has not taken them yet; past this the feed fails. */
  maxBuffered: number;
  /** How long the feed waits on a quiet bus before it checks the table anyway. */
  pollMs: number;
  /** How long it waits on a quiet bus that is connected, as a safety net (default 30 s). */
  safetyPollMs?: number;
  /** Rows per replay query. */
  pageSize?: number;
  /** Called as soon as the buffer overflows, before the consumer asks for more. */
  onOverflow?: (err: ConnectError) => void;
  /** Told, for each event delivered from the bus, the seconds since it was published. */
  observeLag?: (seconds: number) => void;
  /** Runs each table read (default: at once); see gate.ts. */
  gate?: Gate;
}

/**
 * Every event of a topic after a cursor, exactly once and in sequence order: first a replay
 * from the events table, then live events from the bus (design §4).
 *
 * The bus is only a wake-up path. Sequences are dense per topic, so a live event that is not
 * the next one (a dropped or reordered bus message) sends the feed back to the table for the
 * missing range, and repeats are dropped by sequence. A quiet bus is checked against the
 * table every `pollMs` while the bus is down (and every `safetyPollMs` while it is up). Memory is bounded: at most
 * `maxBuffered` live events wait for a slow consumer, then the feed ends with
 * RESOURCE_EXHAUSTED, naming the sequence to resume after.
 */
/** Short polls a feed keeps making after its bus reconnects. */
const recoveryPolls = 3;

export async function* followTopic(opts: FeedOptions): AsyncGenerator<StoredEvent> {
  const pageSize = opts.pageSize ?? 500;
  const gate: Gate = opts.gate ?? ((work) => work());
  const matches = (e: StoredEvent) =>
    e.topic === opts.topic && (opts.key === undefined || e.key === opts.key);
  let queue: StoredEvent[] = [];
  let overflow: ConnectError | undefined;
  let wake: (() => void) | undefined;
  // `delivered`: the last event handed to the consumer (the resume cursor it would send).
  // `cursor`: the last sequence of the topic accounted for, delivered or filtered out; the
  // bus's numbering is judged against it to tell repeats and gaps.
  let delivered = opts.after;
  let cursor = opts.after;

  let replay = true;
  let dropped = false;
  // Short polls still to make since the bus was last seen disconnected.
  let recovering = 0;
  // True while the consumer holds an event and has not asked for the next.
  let parked = false;

  const unsubscribe = opts.bus.subscribe(opts.topic, (event) => {
    if (overflow) return;
    if (queue.length >= opts.maxBuffered) {
      queue = [];
      if (!parked) {
        // The feed itself is busy reading the table, which holds these events too: it will
        // read once more. Only a consumer that leaves the feed parked is too slow.
        dropped = true;
        return;
      }
      overflow = new ConnectError(
        `subscriber too slow: more than ${opts.maxBuffered} events waiting; resume after sequence ${delivered}`,
        Code.ResourceExhausted,
      );
      opts.onOverflow?.(overflow);
    } else {
      queue.push(event);
    }
    wake?.();
  });
  const onAbort = () => wake?.();
  // A feed waiting out a long safety interval must hear at once that the bus went away.
  const stopWatching = opts.bus.onConnectionChange(() => wake?.());
  opts.signal.addEventListener("abort", onAbort);
  try {
    while (!opts.signal.aborted) {
      if (replay) {
        // Everything up to the head read here has committed (writers of a topic commit in
        // sequence order), so after the pages below the feed has accounted for all of it.
        const head = await gate(() => headSequence(opts.db, opts.topic));
        if (delivered > head) {
          // A cursor from the future (another topic's, or a database that was reset) would
          // make every real event look like a repeat: refuse it instead of losing them.
          throw new ConnectError(
            `after_sequence ${delivered} is beyond the last sequence ${head} of this stream`,
            Code.OutOfRange,
          );
        }
        for (;;) {
          const page = await gate(() =>
            readEvents(opts.db, { topic: opts.topic, after: delivered, key: opts.key, limit: pageSize }),
          );
          for (const event of page) {
            delivered = event.sequence;
            parked = true;
            yield event;
            parked = false;
          }
          if (page.length < pageSize) break;
        }
        cursor = Math.max(cursor, head, delivered);
        // Live events queued meanwhile are repeats or newer and are sorted out below.
        replay = dropped;
        dropped = false;
        if (replay) continue;
      }
      if (overflow) throw overflow;
      const event = queue.shift();
      if (!event) {
        if (opts.signal.aborted) break; // aborted while busy elsewhere: no wake-up is coming
        const woke = await new Promise<boolean>((resolve) => {
          // Polling every stream on a healthy bus would cost a query per stream per interval
          // (1,000 idle subscribers: hundreds of queries a second); poll often only without it,
          // and for a few intervals after it comes back, while its subscriptions are renewed.
          if (!opts.bus.connected()) recovering = recoveryPolls;
          const wait = recovering > 0 ? opts.pollMs : (opts.safetyPollMs ?? 30_000);
          const timer = setTimeout(() => resolve(false), wait);
          wake = () => {
            clearTimeout(timer);
            resolve(true);
          };
        });
        wake = undefined;
        if (!woke) {
          replay = true;
          if (recovering > 0 && opts.bus.connected()) recovering--;
        }
        continue;
      }
      if (event.sequence <= cursor) continue; // already delivered: a repeat
      if (event.sequence > cursor + 1) {
        replay = true; // a gap: the table has what the bus lost
        queue.unshift(event);
        continue;
      }
      cursor = event.sequence;
      if (!matches(event)) continue;
      delivered = event.sequence;
      if (event.publishedAt !== undefined)
        opts.observeLag?.(Math.max(0, Date.now() - event.publishedAt) / 1000);
      parked = true;
      yield event;
      parked = false;
    }
  } finally {
    unsubscribe();
    stopWatching();
    opts.signal.removeEventListener("abort", onAbort);
  }
}
