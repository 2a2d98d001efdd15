import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { openTestDatabase } from "../../test/support/test-database.ts";
import type { Database } from "../db/database.ts";
import type { CallDeadline } from "../db/deadline.ts";
import type { Role } from "../db/schema.ts";
import { createUserInserts } from "./user-inserts.ts";
import * as store from "./user-store.ts";

let database: Database;
before(async () => {
  database = await openTestDatabase(4);
});
after(async () => {
  await database?.close();
});

const noDeadline: CallDeadline = { signal: new AbortController().signal, timeoutMs: () => undefined };

test("calls beyond the insert slots share statements, each answered with its own row", async () => {
  const insert = createUserInserts(database.db, { maxInFlight: 1 });
  const rows = await Promise.all(
    Array.from({ length: 30 }, (_, i) =>
      insert({ name: `Shared ${i}`, email: `shared-${i}@example.com`, age: i }, noDeadline),
    ),
  );
  rows.forEach((row, i) => {
    assert.equal(row.name, `Shared ${i}`);
    assert.equal(row.email, `shared-${i}@example.com`);
  });
  assert.equal(new Set(rows.map((r) => r.id)).size, 30);
  const stored = await store.listUsersPage(database.db, { limit: 100, query: "shared-" });
  assert.equal(stored.length, 30);
});

test("a taken email is ALREADY_EXISTS for that call only; the first of two twins wins", async () => {
  const insert = createUserInserts(database.db, { maxInFlight: 1 });
  const settled = await Promise.allSettled([
    insert({ name: "Block", email: "block@example.com", age: 1 }, noDeadline),
    insert({ name: "First", email: "twin@example.com", age: 2 }, noDeadline),
    insert({ name: "Second", email: "TWIN@example.com", age: 3 }, noDeadline),
    insert({ name: "Other", email: "other@example.com", age: 4 }, noDeadline),
  ]);
  assert.deepEqual(
    settled.map((s) => (s.status === "fulfilled" ? s.value.name : Code[ConnectError.from(s.reason).code])),
    ["Block", "First", "AlreadyExists", "Other"],
  );
});

test("a row the statement refuses fails alone: the others are written one by one", async () => {
  const insert = createUserInserts(database.db, { maxInFlight: 1 });
  // Only a bug could send this role (the RPC maps the enum), but the table's CHECK refuses
  // it, failing the whole multi-row statement: only its own call may fail.
  const settled = await Promise.allSettled([
    insert({ name: "Holder", email: "holder@example.com", age: 1 }, noDeadline),
    insert({ name: "Fine", email: "fine@example.com", age: 2 }, noDeadline),
    insert({ name: "Bad", email: "bad-role@example.com", age: 3, role: "root" as Role }, noDeadline),
    insert({ name: "Also fine", email: "also-fine@example.com", age: 4 }, noDeadline),
  ]);
  assert.deepEqual(
    settled.map((s) => s.status),
    ["fulfilled", "fulfilled", "rejected", "fulfilled"],
  );
  const stored = await store.listUsersPage(database.db, { limit: 10, query: "fine@" });
  assert.deepEqual(stored.map((r) => r.name).sort(), ["Also fine", "Fine"]);
});

test("a call whose deadline is set runs its insert under that deadline", async () => {
  const insert = createUserInserts(database.db, { maxInFlight: 1 });
  const call: CallDeadline = { signal: new AbortController().signal, timeoutMs: () => 5_000 };
  const row = await insert({ name: "Timed", email: "timed@example.com", age: 5 }, call);
  assert.equal(row.name, "Timed");
  const ended = new AbortController();
  ended.abort(new ConnectError("gone", Code.Canceled));
  await assert.rejects(
    insert(
      { name: "Gone", email: "gone-early@example.com", age: 6 },
      { signal: ended.signal, timeoutMs: () => 5_000 },
    ),
    (err: unknown) => err instanceof ConnectError && err.code === Code.Canceled,
  );
  assert.equal((await store.listUsersPage(database.db, { limit: 10, query: "gone-early" })).length, 0);
});
