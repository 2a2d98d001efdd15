import assert from "node:assert/strict";
import { test } from "node:test";
import { and, asc, eq, gt, type SQL, sql } from "drizzle-orm";
import { bothDrivers } from "../../test/support/both-drivers.ts";
import type { Database } from "../db/database.ts";
import { orders, users } from "../db/schema.ts";
import { listOrdersPage, type OrderPageQuery } from "./order-store.ts";

// Both drivers: PostgreSQL when DATABASE_URL is set (postgres-js, detached rows), and embedded
// PGlite always.
const drivers = bothDrivers();

/** What Drizzle's own select gives for the same page: the rows listOrdersPage must equal. */
function drizzlePage(database: Database, q: OrderPageQuery) {
  const filters: SQL[] = [];
  if (q.userId !== undefined) filters.push(eq(orders.userId, q.userId));
  if (q.status !== undefined) filters.push(eq(orders.status, q.status));
  if (q.after !== undefined) filters.push(gt(orders.id, q.after));
  return database.db
    .select()
    .from(orders)
    .where(filters.length > 0 ? and(...filters) : undefined)
    .orderBy(asc(orders.id))
    .limit(q.limit);
}

for (const driver of drivers) {
  test(`${driver.name}: listOrdersPage gives Drizzle's rows, by user, status and cursor`, async () => {
    const database = await driver.open();
    const { db } = database;
    const [a, b] = ["a", "b"].map(() => crypto.randomUUID());
    await db.insert(users).values([
      { id: a as string, name: "A", email: `a-${a}@example.com`, age: 30 },
      { id: b as string, name: "B", email: `b-${b}@example.com`, age: 31 },
    ]);
    // Times with milliseconds, far apart and close, a large version, multi-byte text.
    await db.execute(sql`
      insert into orders (id, user_id, product_id, quantity, status, idempotency_key, create_time, update_time, version)
      select gen_random_uuid(), case when g % 3 = 0 then ${b}::uuid else ${a}::uuid end, 'sku-ü-' || g, g, 1 + g % 4,
        'key-' || g, timestamptz '2026-01-02 03:04:05.678+00' + g * interval '1.001 second',
        timestamptz '1999-12-31 23:59:59.999+00' + g * interval '1 day', 9007199254740000 + g
      from generate_series(1, 250) as g`);
    const queries: OrderPageQuery[] = [
      { limit: 100 },
      { limit: 1000 },
      { userId: a, limit: 60 },
      { userId: b, status: 2, limit: 1000 },
      { status: 4, limit: 7 },
    ];
    for (const q of queries) {
      const expected = await drizzlePage(database, q);
      assert.ok(expected.length > 0, JSON.stringify(q));
      assert.deepEqual(await listOrdersPage(db, q), expected, JSON.stringify(q));
      // The next page from the cursor, too.
      const after = expected.at(-1)?.id;
      assert.deepEqual(
        await listOrdersPage(db, { ...q, after }),
        await drizzlePage(database, { ...q, after }),
      );
    }
    assert.deepEqual(await listOrdersPage(db, { userId: crypto.randomUUID(), limit: 10 }), []);
  });
}
