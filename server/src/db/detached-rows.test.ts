import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { sql } from "drizzle-orm";
import { pino } from "pino";
import { createTestDatabase, type TestDatabase } from "../../test/support/test-database.ts";
import { type Database, openDatabase } from "./database.ts";
import { detachedRows } from "./detached-rows.ts";
import { sqlState } from "./errors.ts";
import { rowsOf } from "./rows.ts";

// Both drivers: PostgreSQL when DATABASE_URL is set (postgres-js, read through forEach), and
// embedded PGlite always (its results are returned as they are).
const drivers = [
  { name: "PGlite", url: () => undefined },
  ...(process.env.DATABASE_URL ? [{ name: "PostgreSQL", url: () => testDb?.url }] : []),
];

let testDb: TestDatabase | undefined;
const opened: Database[] = [];
before(async () => {
  if (process.env.DATABASE_URL) testDb = await createTestDatabase();
});
after(async () => {
  for (const d of opened) await d.close();
  await testDb?.drop();
});

async function open(url: string | undefined): Promise<Database> {
  const database = await openDatabase({
    databaseUrl: url,
    dataDir: "memory://",
    poolSize: 2,
    logger: pino({ level: "silent" }),
  });
  opened.push(database);
  return database;
}

// Values of every kind a page carries: text (multi-byte too), numbers, null, a float8.
const query = (after: number) => sql`
  select n as "n", 'row ' || n || ' — ü' as "label", case when n % 3 = 0 then null else n * 1.5 end as "half",
    (n * 1000)::float8 as "ms"
  from generate_series(1, 1200) as n
  where n > ${after}
  order by n
  limit ${500}`;

for (const driver of drivers) {
  test(`${driver.name}: detachedRows gives the rows db.execute gives`, async () => {
    const { db } = await open(driver.url());
    for (const after of [0, 500, 1000, 1200]) {
      const expected = rowsOf(await db.execute(query(after)));
      const rows = await detachedRows(db, query(after));
      assert.deepEqual(rows, [...expected], `page after ${after}`);
      assert.equal(Object.getPrototypeOf(rows), Array.prototype);
      assert.equal(rows.length, Math.max(0, Math.min(500, 1200 - after)));
    }
  });

  test(`${driver.name}: detachedRows inside a transaction, and a failing query rejects`, async () => {
    const { db } = await open(driver.url());
    const rows = await db.transaction(async (tx) => {
      await tx.execute(sql`set local statement_timeout = 5000`);
      return detachedRows<{ n: number }>(tx as never, query(1100));
    });
    assert.deepEqual(
      rows.map((r) => r.n),
      Array.from({ length: 100 }, (_, i) => 1101 + i),
    );
    // division_by_zero, however the driver wraps it.
    await assert.rejects(
      detachedRows(db, sql`select 1 / ${0}::int as "x"`),
      (err) => sqlState(err) === "22012",
    );
  });
}
