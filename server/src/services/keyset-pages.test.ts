import assert from "node:assert/strict";
import { test } from "node:test";
import { keysetPages } from "./keyset-pages.ts";

const table = Array.from({ length: 23 }, (_, i) => ({ id: String(i).padStart(3, "0") }));
function pager(log: string[]) {
  return async (after: string | undefined) => {
    log.push(`fetch after ${after ?? "-"}`);
    return table.filter((r) => after === undefined || r.id > after).slice(0, 10);
  };
}

test("every row once, in order, across pages (the last one short)", async () => {
  const log: string[] = [];
  const out: string[] = [];
  for await (const page of keysetPages(pager(log), 10, undefined)) out.push(...page.map((r) => r.id));
  assert.deepEqual(
    out,
    table.map((r) => r.id),
  );
  assert.deepEqual(log, ["fetch after -", "fetch after 009", "fetch after 019"]);
});

test("the next page is asked for before the current one has been consumed", async () => {
  const log: string[] = [];
  const it = keysetPages(pager(log), 10, undefined);
  await it.next(); // page one
  assert.deepEqual(log, ["fetch after -", "fetch after 009"]);
  await it.return(undefined);
});

test("a failing prefetch surfaces when its page is reached, and not if the consumer left", async () => {
  let calls = 0;
  const failing = async (after: string | undefined) => {
    calls++;
    if (after !== undefined) throw new Error("page two failed");
    return table.slice(0, 10);
  };
  const rows: string[] = [];
  await assert.rejects(async () => {
    for await (const page of keysetPages(failing, 10, undefined)) rows.push(...page.map((r) => r.id));
  }, /page two failed/);
  assert.equal(rows.length, 10);
  const early = keysetPages(failing, 10, undefined);
  await early.next();
  await early.return(undefined); // the rejected prefetch must not become an unhandled rejection
  await new Promise((r) => setImmediate(r));
  assert.equal(calls, 4);
});
