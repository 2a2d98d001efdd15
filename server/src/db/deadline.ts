import { sql } from "drizzle-orm";
import type { Db } from "./database.ts";

/**
 * Runs `work` so that the database itself gives up when the caller's deadline passes.
 *
 * The RPC layer already answers DEADLINE_EXCEEDED on time; this stops the query behind it
 * too, instead of letting it hold a connection and locks for a client that is gone. Calls
 * without a deadline run as they are, with no transaction around them.
 */
export async function withDeadline<T>(
  db: Db,
  timeoutMs: number | undefined,
  work: (db: Db) => Promise<T>,
): Promise<T> {
  if (timeoutMs === undefined) return work(db);
  const ms = Math.max(1, Math.ceil(timeoutMs));
  return db.transaction(async (tx) => {
    await tx.execute(sql.raw(`set local statement_timeout = ${ms}`));
    return work(tx as unknown as Db);
  });
}

/**
 * Runs `work` in a transaction, with the same deadline rule as withDeadline: PostgreSQL
 * cancels the transaction's statements when the caller's remaining time runs out.
 */
export async function inTransaction<T>(
  db: Db,
  timeoutMs: number | undefined,
  work: (tx: Db) => Promise<T>,
): Promise<T> {
  return db.transaction(async (tx) => {
    if (timeoutMs !== undefined) {
      await tx.execute(sql.raw(`set local statement_timeout = ${Math.max(1, Math.ceil(timeoutMs))}`));
    }
    return work(tx as unknown as Db);
  });
}
