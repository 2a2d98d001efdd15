import assert from "node:assert/strict";
import { test } from "node:test";
import { createFairDispatch } from "./fair-dispatch.ts";
import type { HttpHandler } from "./http-handler.ts";

type NodeRequest = Parameters<HttpHandler>[0];
/** Stand-ins for requests: only the connection (socket) and whether it is gone matter here. */
const on = (socket: object, destroyed = false) => ({ socket, destroyed }) as unknown as NodeRequest;
/** An HTTP/2 request on `session`, whose stream the client may have reset. */
const onStream = (session: object, stream: { destroyed: boolean; closed: boolean }) =>
  ({ stream: Object.assign(stream, { session }), destroyed: false }) as unknown as NodeRequest;
const checkPhase = () => new Promise((r) => setImmediate(r));

test("under the per-turn budget every request starts in the same turn, once this turn's reads are done", async () => {
  const dispatch = createFairDispatch(8, 8);
  const started: number[] = [];
  const a = on({});
  for (let i = 0; i < 8; i++) dispatch(a, () => started.push(i));
  assert.deepEqual(started, [], "nothing starts inside the read that delivered it");
  await checkPhase();
  assert.deepEqual(started, [0, 1, 2, 3, 4, 5, 6, 7]);
});

test("a flood from one connection does not hold back another's request", async () => {
  const dispatch = createFairDispatch(8);
  const order: string[] = [];
  const flood = on({});
  const other = on({});
  for (let i = 0; i < 1000; i++) dispatch(flood, () => order.push(`flood ${i}`));
  dispatch(other, () => order.push("other"));
  while (order.length < 1001) await new Promise((r) => setTimeout(r, 1));
  // "other" starts in the first fair round, beside the flood's first, not after 1,000.
  const position = order.indexOf("other");
  assert.ok(position <= 1, `the other connection's request started at position ${position}`);
  assert.deepEqual(
    order.filter((s) => s !== "other"),
    Array.from({ length: 1000 }, (_, i) => `flood ${i}`),
    "one connection's requests keep their order",
  );
});

test("one connection starts at most its share of a turn, the rest after the next reads", async () => {
  const dispatch = createFairDispatch(128, 16);
  const started: string[] = [];
  const flood = on({});
  for (let i = 0; i < 100; i++) dispatch(flood, () => started.push(`flood ${i}`));
  await checkPhase();
  assert.equal(started.length, 16, "the first turn takes 16 of the flood's 100, not all");
  // A request read before the next turn starts in it, beside the flood's next share.
  dispatch(on({}), () => started.push("other"));
  await checkPhase();
  assert.ok(started.indexOf("other") <= 16 + 1, `started at ${started.indexOf("other")}`);
  while (started.length < 101) await checkPhase();
  assert.deepEqual(
    started.filter((s) => s !== "other"),
    Array.from({ length: 100 }, (_, i) => `flood ${i}`),
  );
});

test("streams reset in the read that opened them (rapid reset) are dropped without starting", async () => {
  const dispatch = createFairDispatch(128);
  const started: string[] = [];
  const session = {};
  const streams = Array.from({ length: 100 }, () => ({ destroyed: false, closed: false }));
  streams.forEach((stream, i) => {
    dispatch(onStream(session, stream), () => started.push(`reset ${i}`));
  });
  dispatch(onStream(session, { destroyed: false, closed: false }), () => started.push("kept"));
  // The same read goes on to the RST_STREAM frames: node:http2 closes and destroys the streams.
  for (const [i, stream] of streams.entries()) {
    if (i % 2) stream.destroyed = true;
    else stream.closed = true;
  }
  const gone = on({}, true);
  dispatch(gone, () => started.push("closed connection"));
  await checkPhase();
  assert.deepEqual(started, ["kept"]);
});

test("bare HTTP/2 streams (the unary fast path) queue by their session, and a reset one is dropped", async () => {
  const dispatch = createFairDispatch(8, 1);
  const started: string[] = [];
  const session = {};
  const bare = (state: { destroyed: boolean; closed: boolean }) =>
    Object.assign(state, { session, respond() {} }) as unknown as Parameters<typeof dispatch>[0];
  const reset = { destroyed: false, closed: false };
  dispatch(bare(reset), () => started.push("reset"));
  dispatch(bare({ destroyed: false, closed: false }), () => started.push("first"));
  dispatch(bare({ destroyed: false, closed: false }), () => started.push("second"));
  dispatch(on({}), () => started.push("other"));
  reset.closed = true;
  await checkPhase();
  // One a turn from the session (its share is 1): the reset stream is dropped, "first" starts
  // beside the other connection's request, and "second" waits for the next turn.
  assert.deepEqual(started.sort(), ["first", "other"]);
  await checkPhase();
  assert.deepEqual(started, ["first", "other", "second"]);
});

test("heavy calls (streams) start at most their share a turn; light calls beside them do not wait", async () => {
  const dispatch = createFairDispatch(128, 64, 4);
  const started: string[] = [];
  const streams = on({});
  const unary = on({});
  for (let i = 0; i < 10; i++) dispatch(streams, () => started.push(`stream ${i}`), true);
  for (let i = 0; i < 10; i++) dispatch(unary, () => started.push(`unary ${i}`));
  await checkPhase();
  assert.equal(started.filter((s) => s.startsWith("stream")).length, 4, "four streams in the first turn");
  assert.equal(started.filter((s) => s.startsWith("unary")).length, 10, "every unary call in the same turn");
  while (started.length < 20) await checkPhase();
  assert.deepEqual(
    started.filter((s) => s.startsWith("stream")),
    Array.from({ length: 10 }, (_, i) => `stream ${i}`),
    "the streams keep their order",
  );
  // A connection's light call behind its own waiting heavy one waits with it (order kept).
  const mixed = on({});
  const order: string[] = [];
  for (let i = 0; i < 6; i++) dispatch(mixed, () => order.push(`stream ${i}`), true);
  dispatch(mixed, () => order.push("unary after"));
  while (order.length < 7) await checkPhase();
  assert.equal(order.at(-1), "unary after");
});

test("a heavy call whose client is gone is dropped even past the heavy share", async () => {
  const dispatch = createFairDispatch(128, 64, 1);
  const started: string[] = [];
  const session = {};
  dispatch(onStream(session, { destroyed: false, closed: false }), () => started.push("first"), true);
  dispatch(onStream(session, { destroyed: true, closed: true }), () => started.push("reset"), true);
  dispatch(onStream(session, { destroyed: false, closed: false }), () => started.push("second"), true);
  await checkPhase();
  assert.deepEqual(started, ["first"]);
  await checkPhase();
  assert.deepEqual(started, ["first", "second"], "the reset one never started, nor held the queue");
});
