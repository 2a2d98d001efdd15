// Item A of the operations issue: a transaction that loses a deadlock or a serialization
// conflict in PostgreSQL runs again after a short backoff, a bounded number of times, and
// never past its call's deadline. The conflicts here are PostgreSQL's own, provoked for real.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Code } from "@connectrpc/connect";
import { sql } from "drizzle-orm";
import { pino } from "pino";
import postgres from "postgres";
import { type Database, type Db, openDatabase } from "../../src/db/database.ts";
import { type CallDeadline, inTransaction } from "../../src/db/deadline.ts";
import { sqlState, toConnectError } from "../../src/db/errors.ts";
import { createTestDatabase, type TestDatabase } from "../support/test-database.ts";

const skip = !process.env.DATABASE_URL && "needs DATABASE_URL: PGlite has one connection, so no conflicts";

let testDb: TestDatabase;
let database: Database;
before(async () => {
  if (skip) return;
  testDb = await createTestDatabase();
  const url = testDb.url ?? "";
  const admin = postgres(url, { max: 1, onnotice: () => {} });
  try {
    // Detect the deadlock quickly; set before the pool opens so every session has it.
    await admin.unsafe(`alter database ${new URL(url).pathname.slice(1)} set deadlock_timeout = '100ms'`);
    await admin`create table retry_probe (id int primary key, n int not null default 0)`;
    await admin`insert into retry_probe (id) values (1), (2)`;
  } finally {
    await admin.end();
  }
  database = await openDatabase({
    databaseUrl: url,
    dataDir: "memory://",
    poolSize: 4,
    logger: pino({ level: "silent" }),
  });
});
after(async () => {
  await database?.close();
  await testDb?.drop();
});

function call(timeoutMs?: number): CallDeadline {
  const controller = new AbortController();
  const end = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
  return { timeoutMs: () => (end === undefined ? undefined : end - Date.now()), signal: controller.signal };
}

/** Resolves once `n` parties arrived. */
function barrier(n: number): () => Promise<void> {
  let arrived = 0;
  let open = () => {};
  const opened = new Promise<void>((r) => {
    open = r;
  });
  return () => {
    if (++arrived >= n) open();
    return opened;
  };
}

/** The `n` column of a result, as numbers. */
async function ns(query: Promise<unknown>): Promise<number[]> {
  return ((await query) as Array<{ n: unknown }>).map((r) => Number(r.n));
}

const bump = (tx: Db, id: number) => tx.execute(sql`update retry_probe set n = n + 1 where id = ${id}`);

test("a deadlock victim is retried and both transactions commit", { skip, timeout: 20_000 }, async () => {
  await database.db.execute(sql`update retry_probe set n = 0`);
  const meet = barrier(2);
  const tries: Record<0 | 1, number> = { 0: 0, 1: 0 };
  // Each locks one row, waits for the other to lock its row, then wants the other's row.
  const crossing = (me: 0 | 1, first: number, second: number) =>
    inTransaction(database.db, call(10_000), async (tx) => {
      tries[me]++;
      await bump(tx, first);
      if (tries[me] === 1) await meet();
      await bump(tx, second);
      return tries[me];
    });
  const results = await Promise.all([crossing(0, 1, 2), crossing(1, 2, 1)]);
  // PostgreSQL aborted exactly one of them with 40P01; it ran again and committed.
  assert.deepEqual([...results].sort(), [1, 2], `tries: ${results}`);
  assert.deepEqual(await ns(database.db.execute(sql`select n from retry_probe order by id`)), [2, 2]);
});

test("a serialization failure (repeatable read, concurrent update) is retried", {
  skip,
  timeout: 20_000,
}, async () => {
  await database.db.execute(sql`update retry_probe set n = 0`);
  const meet = barrier(2);
  const tries: Record<0 | 1, number> = { 0: 0, 1: 0 };
  // No deadline: the isolation level must be the transaction's first statement.
  const increment = (me: 0 | 1) =>
    inTransaction(database.db, call(), async (tx) => {
      tries[me]++;
      await tx.execute(sql`set transaction isolation level repeatable read`);
      const [n = 0] = await ns(tx.execute(sql`select n from retry_probe where id = 1`));
      if (tries[me] === 1) await meet(); // both hold a snapshot of the same row
      await tx.execute(sql`update retry_probe set n = ${n + 1} where id = 1`);
      return tries[me];
    });
  const results = await Promise.all([increment(0), increment(1)]);
  assert.deepEqual([...results].sort(), [1, 2], `tries: ${results}`);
  // No lost update: the retry read the first one's commit.
  assert.deepEqual(await ns(database.db.execute(sql`select n from retry_probe where id = 1`)), [2]);
});

test("a conflict that never clears is tried 3 times, then answered ABORTED", {
  skip,
  timeout: 20_000,
}, async () => {
  let tries = 0;
  const started = Date.now();
  const err = await inTransaction(database.db, call(5_000), async (tx) => {
    tries++;
    await tx.execute(
      sql.raw(`do $$ begin raise exception 'conflict' using errcode = 'serialization_failure'; end $$`),
    );
  }).then(
    () => assert.fail("should have failed"),
    (e: unknown) => e,
  );
  assert.equal(tries, 3);
  assert.equal(sqlState(err), "40001");
  assert.equal(toConnectError(err).code, Code.Aborted);
  assert.ok(Date.now() - started < 2_000, `took ${Date.now() - started} ms`);
});

test("no retry waits past the call's deadline", { skip, timeout: 20_000 }, async () => {
  let tries = 0;
  const started = Date.now();
  const slowBackoff = { attempts: 5, baseDelayMs: 1_000, maxDelayMs: 1_000, random: () => 0.9 };
  await assert.rejects(
    inTransaction(
      database.db,
      call(500),
      async (tx) => {
        tries++;
        await tx.execute(
          sql.raw(`do $$ begin raise exception 'deadlock' using errcode = 'deadlock_detected'; end $$`),
        );
      },
      slowBackoff,
    ),
    (e: unknown) => sqlState(e) === "40P01",
  );
  assert.equal(tries, 1, "a 900 ms backoff does not fit in a 500 ms deadline");
  assert.ok(Date.now() - started < 500, `took ${Date.now() - started} ms`);
});

test("other errors are not retried", { skip, timeout: 20_000 }, async () => {
  let tries = 0;
  await assert.rejects(
    inTransaction(database.db, call(5_000), async (tx) => {
      tries++;
      await tx.execute(sql`insert into retry_probe (id) values (1)`);
    }),
    (e: unknown) => sqlState(e) === "23505",
  );
  assert.equal(tries, 1);
});
