import { Code, ConnectError } from "@connectrpc/connect";
import { sql } from "drizzle-orm";
import type { Db } from "./database.ts";
import { defaultRetryPolicy, type RetryPolicy, retryConflicts } from "./retry.ts";

/** What database work needs to know of its call: the time left, and whether it ended. */
export interface CallDeadline {
  timeoutMs(): number | undefined;
  readonly signal: AbortSignal;
}

/**
 * Runs `work` so that the database itself gives up when the caller's deadline passes.
 *
 * The RPC layer already answers DEADLINE_EXCEEDED on time; this stops the query behind it
 * too, instead of letting it hold a connection and locks for a client that is gone. Calls
 * without a deadline run as they are, with no transaction around them.
 */
export async function withDeadline<T>(db: Db, call: CallDeadline, work: (db: Db) => Promise<T>): Promise<T> {
  if (call.timeoutMs() === undefined) {
    throwIfEnded(call);
    return work(db);
  }
  return inTransaction(db, call, work);
}

/**
 * Runs `work` in a transaction whose statements PostgreSQL cancels when the caller's time
 * runs out. The time left is read once the transaction has its connection: waiting for a
 * pooled (or PGlite's single) connection uses up the budget too, and a call that ended while
 * it waited does no work at all.
 *
 * A transaction that loses a serialization conflict or a deadlock (PostgreSQL rolled it
 * back) runs again, whole, after a short jittered backoff: a bounded number of tries, and
 * never past the call's deadline (retry.ts). `work` must therefore keep its effects inside
 * the transaction; anything after commit (publishing events) belongs to the caller.
 */
export async function inTransaction<T>(
  db: Db,
  call: CallDeadline,
  work: (tx: Db) => Promise<T>,
  retry: RetryPolicy = defaultRetryPolicy,
): Promise<T> {
  return retryConflicts(
    call,
    () =>
      db.transaction(async (tx) => {
        throwIfEnded(call);
        const left = call.timeoutMs();
        if (left !== undefined) {
          await tx.execute(sql.raw(`set local statement_timeout = ${Math.max(1, Math.ceil(left))}`));
        }
        return work(tx as unknown as Db);
      }),
    retry,
  );
}

/** Throws the call's end (its ConnectError, else CANCELED) if it has ended. */
export function throwIfEnded(call: CallDeadline): void {
  if (!call.signal.aborted) return;
  const reason: unknown = call.signal.reason;
  throw reason instanceof ConnectError ? reason : new ConnectError("the call has ended", Code.Canceled);
}
