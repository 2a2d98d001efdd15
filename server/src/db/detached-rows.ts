import type { SQL } from "drizzle-orm";
import { PgDialect } from "drizzle-orm/pg-core";
import type { Db } from "./database.ts";
import { postgresClientOf } from "./postgres-client.ts";
import { rowsOf } from "./rows.ts";

// The same SQL text and parameters Drizzle's own execute() would send (no casing is configured).
const dialect = new PgDialect();

/**
 * The rows of `query` (as `db.execute()` would give them), read so that the driver keeps
 * none of them. With postgres-js, rows that a query resolves to stay reachable to V8's
 * young-generation collector for tens of queries after the caller let them go, so each
 * scavenge promotes them all: streaming 100,000 users, a quarter of everything allocated went
 * to the old generation, which grew until a mark-compact (README, Performance;
 * bench/driver-promotion.ts reproduces it). Read through `forEach` into an array of our own,
 * and the query resolves to an empty result; the callback it keeps holds a box that is emptied
 * before the rows are handed on. PGlite keeps nothing: its results are returned as they are.
 */
export async function detachedRows<T>(db: Db, query: SQL): Promise<T[]> {
  const client = postgresClientOf(db);
  if (!client) return rowsOf<T>(await db.execute(query));
  const { sql: text, params } = dialect.sqlToQuery(query);
  const box: { rows: T[] } = { rows: [] };
  await client.unsafe(text, params as never[]).forEach((row) => {
    box.rows.push(row as T);
  });
  const rows = box.rows;
  box.rows = [];
  return rows;
}
