import { AsyncLocalStorage } from "node:async_hooks";
import { type CallDeadline, throwIfEnded } from "./deadline.ts";

/** Runs one batch of items as one piece of database work: one outcome per item, in order. */
export type BatchRunner<I, O> = (
  items: readonly I[],
  call: CallDeadline,
) => Promise<PromiseSettledResult<O>[]>;

export interface CoalesceOptions<I, O> {
  /** Batches running at once; calls that arrive while all run wait and go together. */
  maxInFlight: number;
  /** Items per batch at most. */
  maxBatch: number;
  run: BatchRunner<I, O>;
  /**
   * Whether a batch runs in its first caller's async context (true: tracing is on, and its
   * spans belong to that call's trace). Keeping it costs an AsyncLocalStorage.snapshot() per
   * item (2.4% of CreateUser's server CPU under load); with no async context read, nothing
   * needs it.
   */
  keepAsyncContext: boolean;
}

interface Pending<I, O> {
  item: I;
  call: CallDeadline;
  resolve: (value: O) => void;
  reject: (reason: unknown) => void;
  /** Runs a function in the async context the item was submitted in (its call's trace). */
  context: <R>(fn: () => R) => R;
}

/**
 * Write coalescing ("smart batching"): single-item writes from concurrent calls share a
 * statement when the database is busy, and go alone, at once, when it is not.
 *
 * At most `maxInFlight` batches run at a time. An item that finds a free slot starts within
 * the same tick (with any item submitted in that tick); items that arrive while every slot is
 * busy queue, and the next slot to free takes all of them (up to `maxBatch`) as one batch. So
 * an idle server adds no wait to a call, and a busy one pays one round trip, one statement and
 * one commit for many rows instead of one each: under 64 concurrent CreateUser calls the
 * database's per-statement cost, not the rows, was the bound (see the README's Performance).
 *
 * Each item keeps its own outcome (one failing row does not fail the others: the runner
 * decides how). An item whose call ended while it queued is answered with that end and never
 * reaches the database. A batch runs under the latest of its callers' deadlines, or none if
 * one of them has none: a caller whose deadline passes gets DEADLINE_EXCEEDED from the RPC
 * layer on time, while the database work of the others goes on (so, as with any deadline, its
 * user may still be created after that answer). With `keepAsyncContext`, a batch runs in the
 * async context of its first caller: its database spans belong to that call's trace.
 */
export function createCoalescer<I, O>(
  options: CoalesceOptions<I, O>,
): (item: I, call: CallDeadline) => Promise<O> {
  const { maxInFlight, maxBatch, run, keepAsyncContext } = options;
  if (!(maxInFlight >= 1) || !(maxBatch >= 1)) throw new Error("maxInFlight and maxBatch must be at least 1");
  let queue: Pending<I, O>[] = [];
  let inFlight = 0;
  let flushScheduled = false;

  const flush = () => {
    flushScheduled = false;
    while (inFlight < maxInFlight && queue.length > 0) {
      const batch: Pending<I, O>[] = [];
      let taken = 0;
      while (taken < queue.length && batch.length < maxBatch) {
        const next = queue[taken++] as Pending<I, O>;
        try {
          throwIfEnded(next.call);
          batch.push(next);
        } catch (ended) {
          next.reject(ended);
        }
      }
      queue = taken === queue.length ? [] : queue.slice(taken);
      if (batch.length > 0) start(batch);
    }
  };

  const start = (batch: Pending<I, O>[]) => {
    inFlight++;
    const first = batch[0] as Pending<I, O>;
    // In the first caller's async context, not that of whichever batch freed the slot: its
    // trace gets the batch's database spans.
    first
      .context(() => settle(batch))
      .finally(() => {
        inFlight--;
        flush();
      });
  };

  /** Runs a batch and answers each of its callers; never rejects. */
  const settle = async (batch: Pending<I, O>[]) => {
    let results: PromiseSettledResult<O>[];
    try {
      results = await run(
        batch.map((p) => p.item),
        latestDeadline(batch.map((p) => p.call)),
      );
    } catch (err) {
      for (const p of batch) p.reject(err);
      return;
    }
    batch.forEach((p, i) => {
      const result = Array.isArray(results) ? results[i] : undefined;
      if (!result) p.reject(new Error(`the batch runner gave no outcome for item ${i} of ${batch.length}`));
      else if (result.status === "fulfilled") p.resolve(result.value);
      else p.reject(result.reason);
    });
  };

  return (item, call) =>
    new Promise<O>((resolve, reject) => {
      throwIfEnded(call);
      const context = keepAsyncContext ? AsyncLocalStorage.snapshot() : inCurrentContext;
      queue.push({ item, call, resolve, reject, context });
      if (inFlight < maxInFlight && !flushScheduled) {
        flushScheduled = true;
        queueMicrotask(flush);
      }
    });
}

const neverEnds = new AbortController().signal;

const inCurrentContext = <R>(fn: () => R): R => fn();

/**
 * The deadline a batch runs under: the latest of its callers', or none if any has none. Read
 * when the batch's work asks (withDeadline reads it once it holds a connection). The batch as
 * a whole never ends early: the callers that are still waiting want it done.
 */
export function latestDeadline(calls: readonly CallDeadline[]): CallDeadline {
  if (calls.length === 1 && calls[0]) return calls[0];
  return {
    signal: neverEnds,
    timeoutMs() {
      let latest = 0;
      for (const call of calls) {
        const left = call.timeoutMs();
        if (left === undefined) return undefined;
        if (left > latest) latest = left;
      }
      return latest;
    },
  };
}
