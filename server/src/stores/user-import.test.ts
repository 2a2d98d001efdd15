import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { openTestDatabase } from "../../test/support/test-database.ts";
import type { Database } from "../db/database.ts";
import { inTransaction } from "../db/deadline.ts";
import { startUserImport } from "./user-import.ts";
import * as store from "./user-store.ts";

// Both ways a batch goes in (COPY on PostgreSQL, INSERT … ON CONFLICT everywhere) must agree;
// CI runs this file against PostgreSQL, a plain run against PGlite.
let database: Database & { close(): Promise<void> };
before(async () => {
  database = await openTestDatabase(4);
});
after(async () => {
  await database?.close();
});

const users = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => ({
    name: `${prefix}${i}`,
    email: `${prefix}${i}@example.com`,
    age: 20 + i,
  }));

test("a clean batch is created whole, and the wanted rows come back in batch order", async () => {
  const input = users("clean-", 50);
  const outcome = await startUserImport().write(database.db, input, 3);
  assert.equal(outcome.created, 50);
  assert.deepEqual(outcome.skipped, []);
  assert.deepEqual(
    outcome.rows.map((r) => [r.name, r.email, r.age, r.version, r.role]),
    input.slice(0, 3).map((u) => [u.name, u.email, u.age, 1, "user"]),
  );
  const listed = await store.listUsersPage(database.db, { query: "clean-", limit: 100 });
  assert.deepEqual(
    listed.map((r) => r.name),
    input.map((u) => u.name),
  );
});

test("emails that exist are skipped by position, and the rest of the batch is created", async () => {
  await store.createUser(database.db, { name: "Old", email: "dup-old@example.com", age: 1 });
  const importing = startUserImport();
  const first = await importing.write(
    database.db,
    [
      { name: "New", email: "dup-new@example.com", age: 1 },
      { name: "Old again", email: "DUP-OLD@example.com", age: 1 },
      { name: "Other", email: "dup-other@example.com", age: 1 },
    ],
    10,
  );
  assert.equal(first.created, 2);
  assert.deepEqual(first.skipped, [1]);
  assert.deepEqual(
    first.rows.map((r) => r.name),
    ["New", "Other"],
  );
  // The next batch (after one with duplicates) and one after it (back to COPY) both work.
  const second = await importing.write(database.db, users("dup-next-", 5), 0);
  assert.equal(second.created, 5);
  assert.deepEqual(second.rows, []);
  const third = await importing.write(database.db, [...users("dup-next-", 2), ...users("dup-last-", 2)], 0);
  assert.equal(third.created, 2);
  assert.deepEqual(third.skipped, [0, 1]);
});

test("names with COPY's special characters are stored as sent", async () => {
  const name = "tab\there, new\nline, back\\slash, cr\r, quote\" and 'é' ✓";
  const outcome = await startUserImport().write(
    database.db,
    [{ name, email: "special@example.com", age: 3 }],
    1,
  );
  assert.equal(outcome.rows[0]?.name, name);
  const [row] = await store.listUsersPage(database.db, { query: "special@", limit: 1 });
  assert.equal(row?.name, name);
});

test("inside a transaction a failed batch leaves the transaction usable", async () => {
  await store.createUser(database.db, { name: "Taken", email: "tx-taken@example.com", age: 1 });
  const call = { timeoutMs: () => 10_000, signal: new AbortController().signal };
  const outcome = await inTransaction(database.db, call, (tx) =>
    startUserImport().write(
      tx,
      [
        { name: "A", email: "tx-a@example.com", age: 1 },
        { name: "B", email: "tx-taken@example.com", age: 1 },
      ],
      10,
    ),
  );
  assert.equal(outcome.created, 1);
  assert.deepEqual(outcome.skipped, [1]);
  const listed = await store.listUsersPage(database.db, { query: "tx-", limit: 10 });
  assert.deepEqual(listed.map((r) => r.name).sort(), ["A", "Taken"]);
});

test("an empty batch writes nothing", async () => {
  assert.deepEqual(await startUserImport().write(database.db, [], 10), { created: 0, skipped: [], rows: [] });
});
