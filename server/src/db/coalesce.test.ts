import assert from "node:assert/strict";
import { AsyncLocalStorage } from "node:async_hooks";
import { test } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { createCoalescer, latestDeadline } from "./coalesce.ts";
import type { CallDeadline } from "./deadline.ts";

function call(timeoutMs?: number): CallDeadline & { abort(reason?: unknown): void } {
  const controller = new AbortController();
  return {
    signal: controller.signal,
    timeoutMs: () => timeoutMs,
    abort: (reason) => controller.abort(reason),
  };
}

/** A runner whose batches the test settles by hand; it records each batch's items. */
function manualRunner() {
  const batches: {
    items: number[];
    call: CallDeadline;
    done: (results: PromiseSettledResult<string>[]) => void;
  }[] = [];
  const run = (items: readonly number[], batchCall: CallDeadline) =>
    new Promise<PromiseSettledResult<string>[]>((done) => {
      batches.push({ items: [...items], call: batchCall, done });
    });
  const answer = (i: number) =>
    batches[i]?.done(batches[i].items.map((n) => ({ status: "fulfilled", value: `row ${n}` })));
  return { batches, run, answer };
}

const ticks = () => new Promise((resolve) => setImmediate(resolve));

test("an item alone starts at once, in a batch of its own", async () => {
  const runner = manualRunner();
  const submit = createCoalescer({ maxInFlight: 2, maxBatch: 10, keepAsyncContext: false, run: runner.run });
  const one = submit(1, call());
  await ticks();
  assert.deepEqual(
    runner.batches.map((b) => b.items),
    [[1]],
  );
  runner.answer(0);
  assert.equal(await one, "row 1");
});

test("items that arrive while every slot is busy go together, in order, up to maxBatch", async () => {
  const runner = manualRunner();
  const submit = createCoalescer({ maxInFlight: 1, maxBatch: 3, keepAsyncContext: false, run: runner.run });
  const first = submit(0, call());
  await ticks();
  const rest = [1, 2, 3, 4].map((n) => submit(n, call()));
  await ticks();
  assert.equal(runner.batches.length, 1, "nothing else starts while the only slot is busy");
  runner.answer(0);
  await ticks();
  assert.deepEqual(runner.batches[1]?.items, [1, 2, 3]);
  runner.answer(1);
  await ticks();
  assert.deepEqual(runner.batches[2]?.items, [4]);
  runner.answer(2);
  assert.deepEqual(await Promise.all([first, ...rest]), ["row 0", "row 1", "row 2", "row 3", "row 4"]);
});

test("each item gets its own outcome; a runner that throws fails its whole batch only", async () => {
  let calls = 0;
  const submit = createCoalescer<number, number>({
    maxInFlight: 1,
    maxBatch: 10,
    keepAsyncContext: false,
    run: async (items) => {
      calls++;
      if (items.includes(99)) throw new Error("statement failed");
      return items.map((n) =>
        n % 2 === 0
          ? { status: "fulfilled", value: n * 10 }
          : { status: "rejected", reason: new Error(`odd ${n}`) },
      );
    },
  });
  const settled = await Promise.allSettled([submit(2, call()), submit(3, call()), submit(4, call())]);
  assert.deepEqual(
    settled.map((s) => (s.status === "fulfilled" ? s.value : (s.reason as Error).message)),
    [20, "odd 3", 40],
  );
  await assert.rejects(submit(99, call()), /statement failed/);
  assert.equal(await submit(6, call()), 60, "the coalescer goes on after a failed batch");
  assert.equal(calls, 3, "the three submitted together went as one batch");
});

test("a runner that answers nonsense fails its batch's callers, and nothing else", async () => {
  const submit = createCoalescer<number, number>({
    maxInFlight: 1,
    maxBatch: 10,
    keepAsyncContext: false,
    run: async () => "not a list" as unknown as PromiseSettledResult<number>[],
  });
  const settled = await Promise.allSettled([submit(1, call()), submit(2, call())]);
  assert.deepEqual(
    settled.map((s) => s.status),
    ["rejected", "rejected"],
  );
});

/**
 * The async contexts batches run in: call A alone (a batch of one), then B and C while A's
 * batch holds the one slot (they go together once A's ends).
 */
async function batchContexts(keepAsyncContext: boolean): Promise<(string | undefined)[]> {
  const trace = new AsyncLocalStorage<string>();
  const seen: (string | undefined)[] = [];
  const runner = manualRunner();
  const submit = createCoalescer<number, string>({
    maxInFlight: 1,
    maxBatch: 10,
    keepAsyncContext,
    run: (items, batchCall) => {
      seen.push(trace.getStore());
      return runner.run(items, batchCall);
    },
  });
  const a = trace.run("A", () => submit(1, call()));
  await ticks();
  const b = trace.run("B", () => submit(2, call()));
  const c = trace.run("C", () => submit(3, call()));
  runner.answer(0);
  await ticks();
  runner.answer(1);
  await Promise.all([a, b, c]);
  return seen;
}

test("a batch runs in its first caller's async context, not in the one that freed its slot", async () => {
  assert.deepEqual(await batchContexts(true), ["A", "B"]);
});

test("without keepAsyncContext a waiting batch runs where its slot was freed (no snapshot taken)", async () => {
  // The first batch starts in its caller's turn; the second where the first one's ended.
  assert.deepEqual(await batchContexts(false), ["A", "A"]);
});

test("a call that ended while it waited never reaches the runner and gets its end", async () => {
  const runner = manualRunner();
  const submit = createCoalescer({ maxInFlight: 1, maxBatch: 10, keepAsyncContext: false, run: runner.run });
  const first = submit(0, call());
  await ticks();
  const leaving = call();
  const gone = submit(1, leaving);
  const staying = submit(2, call());
  leaving.abort(new ConnectError("client went away", Code.Canceled));
  runner.answer(0);
  await assert.rejects(gone, (err: unknown) => err instanceof ConnectError && err.code === Code.Canceled);
  await ticks();
  assert.deepEqual(runner.batches[1]?.items, [2]);
  runner.answer(1);
  assert.equal(await staying, "row 2");
  assert.equal(await first, "row 0");
  // Already ended before it was submitted: refused at once.
  const ended = call();
  ended.abort();
  await assert.rejects(
    submit(3, ended),
    (err: unknown) => err instanceof ConnectError && err.code === Code.Canceled,
  );
});

test("a batch runs under the latest of its callers' deadlines, or none if one has none", () => {
  const alone = call(5);
  assert.equal(latestDeadline([alone]), alone, "one caller: its own deadline and signal");
  assert.equal(latestDeadline([call(5), call(300), call(40)]).timeoutMs(), 300);
  assert.equal(latestDeadline([call(5), call(undefined), call(40)]).timeoutMs(), undefined);
  assert.equal(latestDeadline([call(5), call(6)]).signal.aborted, false);
});

test("bad limits are refused", () => {
  assert.throws(() =>
    createCoalescer({ maxInFlight: 0, maxBatch: 1, keepAsyncContext: false, run: async () => [] }),
  );
  assert.throws(() =>
    createCoalescer({ maxInFlight: 1, maxBatch: 0, keepAsyncContext: false, run: async () => [] }),
  );
});
