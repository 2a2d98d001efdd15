import { createCoalescer } from "../db/coalesce.ts";
import type { Db } from "../db/database.ts";
import { type CallDeadline, withDeadline } from "../db/deadline.ts";
import { emailTaken, sqlState } from "../db/errors.ts";
import type { UserRow } from "../db/schema.ts";
import { createUser, insertUsers, type NewUser } from "./user-store.ts";

/** Creates one user for one call; concurrent calls may share a statement (coalesce.ts). */
export type InsertUser = (input: NewUser, call: CallDeadline) => Promise<UserRow>;

export interface UserInsertsOptions {
  /** Insert statements running at once: the rest of the pool stays free for other work. */
  maxInFlight: number;
  /** Users per statement at most. */
  maxBatch?: number;
  /** Tracing is on: a statement's spans go to its first caller's trace (coalesce.ts). */
  traced: boolean;
  /** The two statements (default: user-store.ts's); tests pass wrapped ones to watch them. */
  statements?: { createUser: typeof createUser; insertUsers: typeof insertUsers };
}

/**
 * CreateUser's writes. A call alone runs the single-row INSERT as it always did; calls that
 * arrive while `maxInFlight` inserts are running go in together as one multi-row statement,
 * each still answered on its own: its row, or ALREADY_EXISTS for a taken email (the first
 * of two calls with one email wins, as it would have one after the other). If the statement
 * fails on a row's data, the rows go in again one by one, so only the call at fault fails,
 * with the error it would have had alone.
 */
export function createUserInserts(db: Db, options: UserInsertsOptions): InsertUser {
  const statements = options.statements ?? { createUser, insertUsers };
  const insertOne = (input: NewUser, call: CallDeadline) =>
    withDeadline(db, call, (tx) => statements.createUser(tx, input));
  return createCoalescer<NewUser, UserRow>({
    maxInFlight: options.maxInFlight,
    maxBatch: options.maxBatch ?? 256,
    keepAsyncContext: options.traced,
    async run(items, call) {
      if (items.length === 1) return [await settle(insertOne(items[0] as NewUser, call))];
      let rows: (UserRow | undefined)[];
      try {
        rows = await withDeadline(db, call, (tx) => statements.insertUsers(tx, items));
      } catch (err) {
        // A data exception or constraint (SQLSTATE class 22, 23) names no row: find it. Any
        // other failure (the database down, the deadline) is every row's.
        if (!/^2[23]/.test(sqlState(err) ?? "")) throw err;
        const outcomes: PromiseSettledResult<UserRow>[] = [];
        for (const item of items) outcomes.push(await settle(insertOne(item, call)));
        return outcomes;
      }
      return rows.map((row) =>
        row ? { status: "fulfilled", value: row } : { status: "rejected", reason: emailTaken() },
      );
    },
  });
}

async function settle<T>(work: Promise<T>): Promise<PromiseSettledResult<T>> {
  try {
    return { status: "fulfilled", value: await work };
  } catch (reason) {
    return { status: "rejected", reason };
  }
}
