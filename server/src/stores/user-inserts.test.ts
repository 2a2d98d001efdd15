import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { sql } from "drizzle-orm";
import { openTestDatabase } from "../../test/support/test-database.ts";
import type { Database, Db } from "../db/database.ts";
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

/** The store's two statements, noting each multi-row statement's size and statement_timeout. */
function watched() {
  const multi: { rows: number; timeout: string }[] = [];
  let single = 0;
  const statementTimeout = async (db: Db) => {
    const rows = (await db.execute(sql`select current_setting('statement_timeout') as t`)) as unknown;
    const list = Array.isArray(rows) ? rows : (rows as { rows: unknown[] }).rows;
    return String((list[0] as { t: string }).t);
  };
  const statements = {
    createUser: (db: Db, input: store.NewUser) => {
      single++;
      return store.createUser(db, input);
    },
    insertUsers: async (db: Db, input: readonly store.NewUser[]) => {
      multi.push({ rows: input.length, timeout: await statementTimeout(db) });
      return store.insertUsers(db, input);
    },
  };
  return { statements, multi, single: () => single };
}

test("calls beyond the insert slots share statements, each answered with its own row", async () => {
  const watch = watched();
  const insert = createUserInserts(database.db, {
    maxInFlight: 1,
    traced: false,
    statements: watch.statements,
  });
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
  assert.deepEqual(
    watch.multi.map((m) => m.rows),
    [30],
    "one statement for the thirty",
  );
  assert.equal(watch.single(), 0);
  // A lone call, with the slot free, runs the single-row INSERT.
  await insert({ name: "Alone", email: "alone@example.com", age: 1 }, noDeadline);
  assert.equal(watch.single(), 1);
});

test("a taken email is ALREADY_EXISTS for that call only; the first of two twins wins", async () => {
  const insert = createUserInserts(database.db, { maxInFlight: 1, traced: false });
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
  const watch = watched();
  const insert = createUserInserts(database.db, {
    maxInFlight: 1,
    traced: false,
    statements: watch.statements,
  });
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
  assert.deepEqual(
    watch.multi.map((m) => m.rows),
    [4],
    "the shared statement was tried first",
  );
  assert.equal(watch.single(), 4, "then each row alone");
});

test("a shared statement runs under the latest of its callers' deadlines, or none if one has none", async () => {
  const watch = watched();
  const insert = createUserInserts(database.db, {
    maxInFlight: 1,
    traced: false,
    statements: watch.statements,
  });
  const within = (ms: number): CallDeadline => ({
    signal: new AbortController().signal,
    timeoutMs: () => ms,
  });
  await Promise.all([
    insert({ name: "T1", email: "t1@example.com", age: 1 }, within(2_000)),
    insert({ name: "T2", email: "t2@example.com", age: 2 }, within(7_000)),
  ]);
  await Promise.all([
    insert({ name: "T3", email: "t3@example.com", age: 3 }, within(2_000)),
    insert({ name: "T4", email: "t4@example.com", age: 4 }, noDeadline),
  ]);
  assert.deepEqual(
    watch.multi.map((m) => m.rows),
    [2, 2],
  );
  // PostgreSQL shows the timeout rounded to its unit: 7 s less the time already spent.
  assert.match(watch.multi[0]?.timeout ?? "", /^(7s|6\d{3}ms)$/, "the later deadline");
  assert.equal(watch.multi[1]?.timeout, "0", "no timeout when a caller has no deadline");
});

test("a call that ended before its turn is answered with its end and inserts nothing", async () => {
  const insert = createUserInserts(database.db, { maxInFlight: 1, traced: false });
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
