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
  /** Called once when the feed ends, however it ends. */
  onEnd?: () => void;
  /** Told, for each event delivered from the bus, the seconds since it was published. */
  observeLag?: (seconds: number) => void;
  /** Runs each table read (default: at once); see gate.ts. */
  gate?: Gate;
  /** How long a gap in the bus's numbering may wait to fill from the bus before the feed reads the table. */
  reorderMs?: number;
}

/** How many events a batch may hold, and how many payload bytes before it is closed. */
export interface BatchLimits {
  maxEvents: number;
  maxBytes: number;
}

/**
 * A live stream's default batch: what one write to a client may carry. Large enough that a
 * subscriber that fell behind catches up in a few writes, small enough that one write stays
 * well under the HTTP/2 windows.
 */
export const defaultBatchLimits: BatchLimits = { maxEvents: 256, maxBytes: 64 * 1024 };

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

/**
 * How long a gap in the bus's numbering waits to fill from the bus. An event published on
 * another instance overtakes an earlier one whenever that one's publisher is a little slower,
 * and under load by hundreds of milliseconds; reading the table for it costs every stream of
 * the topic on this instance two queries and a decode of its own, all at once, which slows
 * every publisher further (with 250 ms, a fan-out bench run under load saw all 500 streams of
 * an instance read the table again). A message the bus really lost (rare: Redis restarting)
 * waits this much longer.
 */
const defaultReorderMs = 1000;

export async function* followTopic(opts: FeedOptions): AsyncGenerator<StoredEvent> {
  // One event a batch: the resume cursor named on overflow is then the consumer's own.
  for await (const [event] of followTopicBatches(opts, { maxEvents: 1, maxBytes: 0 })) {
    if (event) yield event;
  }
}

/**
 * followTopic's events in batches, in order: each batch is what was waiting when the consumer
 * asked (never empty), within `limits`. A consumer that writes a batch at once (one write to
 * its client) pays its per-write costs once per batch: when events come faster than it
 * writes, batches grow instead of its queue. The cursor named on overflow is the last event
 * of the last batch taken, so the consumer must have passed on all of a batch before it asks
 * for the next.
 */
export async function* followTopicBatches(
  opts: FeedOptions,
  limits: BatchLimits = defaultBatchLimits,
): AsyncGenerator<StoredEvent[]> {
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
        // The feed itself is busy reading the table (or waiting out a gap), and the table holds
        // these events too: it will read once more. Only a consumer that leaves the feed
        // parked is too slow.
        dropped = true;
        return;
      }
      overflow = new ConnectError(
        `subscriber too slow: more than ${opts.maxBuffered} events waiting; resume after sequence ${delivered}`,
        Code.ResourceExhausted,
      );
      opts.onOverflow?.(overflow);
    } else {
      // In sequence order: an event can overtake an earlier one on the bus (two instances
      // publish their commits independently), and then lands a little before the end.
      let at = queue.length;
      while (at > 0 && (queue[at - 1] as StoredEvent).sequence > event.sequence) at--;
      if (at === queue.length) queue.push(event);
      else queue.splice(at, 0, event);
    }
    wake?.();
  });
  /** Resolves true when woken (an event, the bus's state, the end), false after `ms`. */
  const sleep = (ms: number) =>
    new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        wake = undefined;
        resolve(false);
      }, ms);
      wake = () => {
        wake = undefined;
        clearTimeout(timer);
        resolve(true);
      };
    });
  // Since when the next event has been missing while later ones wait (undefined: no gap).
  let gapSince: number | undefined;
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
          for (let from = 0; from < page.length; ) {
            const batch = [];
            let bytes = 0;
            for (; from < page.length && batch.length < limits.maxEvents; from++) {
              const event = page[from] as StoredEvent;
              if (batch.length > 0 && bytes + event.payload.length > limits.maxBytes) break;
              batch.push(event);
              bytes += event.payload.length;
            }
            delivered = (batch.at(-1) as StoredEvent).sequence;
            parked = true;
            yield batch;
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
      if (dropped) {
        // The queue overflowed while the feed waited out a gap: the table has what it dropped.
        dropped = false;
        gapSince = undefined;
        replay = true;
        continue;
      }
      if (queue.length === 0) {
        if (opts.signal.aborted) break; // aborted while busy elsewhere: no wake-up is coming
        // Polling every stream on a healthy bus would cost a query per stream per interval
        // (1,000 idle subscribers: hundreds of queries a second); poll often only without it,
        // and for a few intervals after it comes back, while its subscriptions are renewed.
        if (!opts.bus.connected()) recovering = recoveryPolls;
        const woke = await sleep(recovering > 0 ? opts.pollMs : (opts.safetyPollMs ?? 30_000));
        if (!woke) {
          replay = true;
          if (recovering > 0 && opts.bus.connected()) recovering--;
        }
        continue;
      }
      // Everything waiting that follows on, up to the limits: the bus is in order, so this
      // stops only at a gap, a full batch, or an empty queue.
      const batch: StoredEvent[] = [];
      let bytes = 0;
      let taken = 0;
      let gap = false;
      const now = Date.now();
      for (; taken < queue.length && batch.length < limits.maxEvents; taken++) {
        const event = queue[taken] as StoredEvent;
        if (event.sequence <= cursor) continue; // already delivered: a repeat
        if (event.sequence > cursor + 1) {
          gap = true;
          break;
        }
        if (batch.length > 0 && bytes + event.payload.length > limits.maxBytes) break;
        cursor = event.sequence;
        if (!matches(event)) continue;
        batch.push(event);
        bytes += event.payload.length;
        if (event.publishedAt !== undefined) opts.observeLag?.(Math.max(0, now - event.publishedAt) / 1000);
      }
      queue.splice(0, taken);
      if (gap && batch.length === 0) {
        // The next event is missing. It is usually still on its way (overtaken on the bus),
        // and every stream of the topic on this instance sees the same gap: wait for it a
        // little before they all read the table, which has it for certain.
        gapSince ??= performance.now();
        const left = gapSince + (opts.reorderMs ?? defaultReorderMs) - performance.now();
        if (left > 0 && !opts.signal.aborted) await sleep(left);
        else {
          gapSince = undefined;
          replay = true;
        }
        continue;
      }
      gapSince = undefined;
      if (batch.length === 0) continue;
      delivered = (batch.at(-1) as StoredEvent).sequence;
      parked = true;
      yield batch;
      parked = false;
    }
  } finally {
    unsubscribe();
    stopWatching();
    opts.signal.removeEventListener("abort", onAbort);
    opts.onEnd?.();
  }
}
