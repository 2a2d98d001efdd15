import assert from "node:assert/strict";
import { test } from "node:test";
import { createFairDispatch } from "./fair-dispatch.ts";
import type { HttpHandler } from "./http-handler.ts";

type NodeRequest = Parameters<HttpHandler>[0];
/** Stand-ins for requests: only the connection (socket) matters to the dispatcher. */
const on = (socket: object) => ({ socket }) as unknown as NodeRequest;

test("under the per-turn budget every request starts at once", () => {
  const dispatch = createFairDispatch(8);
  const started: number[] = [];
  const a = on({});
  for (let i = 0; i < 8; i++) dispatch(a, () => started.push(i));
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
  // 8 started at once; "other" starts in the first fair round after them, not after 1,000.
  const position = order.indexOf("other");
  assert.ok(position <= 8 + 1, `the other connection's request started at position ${position}`);
  assert.deepEqual(
    order.filter((s) => s !== "other"),
    Array.from({ length: 1000 }, (_, i) => `flood ${i}`),
    "one connection's requests keep their order",
  );
});
