import assert from "node:assert/strict";
import { test } from "node:test";
import { createGate } from "./gate.ts";

test("no more than `limit` run at once; the rest run in order as places free", async () => {
  const gate = createGate(2);
  let running = 0;
  let peak = 0;
  const order: number[] = [];
  const work = (i: number) =>
    gate(async () => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 5));
      order.push(i);
      running--;
      return i;
    });
  const results = await Promise.all([0, 1, 2, 3, 4, 5].map(work));
  assert.deepEqual(results, [0, 1, 2, 3, 4, 5]);
  assert.equal(peak, 2);
  assert.deepEqual(order, [0, 1, 2, 3, 4, 5]);
});

test("a failing piece of work frees its place", async () => {
  const gate = createGate(1);
  await assert.rejects(
    gate(() => Promise.reject(new Error("boom"))),
    /boom/,
  );
  assert.equal(await gate(async () => "next"), "next");
});
