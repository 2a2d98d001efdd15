import assert from "node:assert/strict";
import { test } from "node:test";
import { sql } from "drizzle-orm";
import { bothDrivers } from "../../test/support/both-drivers.ts";
import { detachedRows } from "./detached-rows.ts";
import { sqlState } from "./errors.ts";
import { rowsOf } from "./rows.ts";

// Both drivers: PostgreSQL when DATABASE_URL is set (postgres-js, read through forEach), and
// embedded PGlite always (its results are returned as they are).
const drivers = bothDrivers();

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
    const { db } = await driver.open();
    for (const after of [0, 500, 1000, 1200]) {
      const expected = rowsOf(await db.execute(query(after)));
      const rows = await detachedRows(db, query(after));
      assert.deepEqual(rows, [...expected], `page after ${after}`);
      assert.equal(Object.getPrototypeOf(rows), Array.prototype);
      assert.equal(rows.length, Math.max(0, Math.min(500, 1200 - after)));
    }
  });

  test(`${driver.name}: detachedRows inside a transaction, and a failing query rejects`, async () => {
    const { db } = await driver.open();
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
