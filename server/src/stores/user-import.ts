import { inArray, sql } from "drizzle-orm";
import { copyField, copyIn } from "../db/copy-in.ts";
import type { Db } from "../db/database.ts";
import { sqlState } from "../db/errors.ts";
import { postgresClientOf } from "../db/postgres-client.ts";
import { rowsOf } from "../db/rows.ts";
import { type UserRow, userColumns, users } from "../db/schema.ts";
import { inEmailOrder, type NewUser, normalizeEmail } from "./user-store.ts";
import { uuidv7 } from "./uuid-v7.ts";

/** What writing one batch of an import did. */
export interface ImportOutcome {
  /** Users created. */
  created: number;
  /** Positions in the batch whose user was not created: the email already exists. */
  skipped: number[];
  /** The first `rowsWanted` users created, in batch order. */
  rows: UserRow[];
}

/** One import (a BatchCreateUsers stream): its batches are written one after another. */
export interface UserImport {
  /**
   * Inserts `input` (emails distinct within it; name, email and age only). A user whose email
   * already exists (in the table, or from an earlier batch) is skipped, never an error.
   */
  write(db: Db, input: readonly NewUser[], rowsWanted: number): Promise<ImportOutcome>;
}

/**
 * Batches go in by the cheapest means that keeps per-item duplicate reporting:
 *
 * - On PostgreSQL, optimistically, one COPY straight into users, as fast as a bulk load gets.
 *   A COPY that meets an existing email fails whole (nothing of it stays: it runs in its own
 *   transaction, or savepoint), and the batch is written again as below.
 * - Otherwise (PGlite, or after a duplicate), one INSERT … SELECT FROM unnest(…) ON CONFLICT
 *   (email) DO NOTHING RETURNING id: a single statement whatever the batch size, whose
 *   returned ids say which users were created.
 *
 * After a batch with duplicates the next one skips the COPY (a re-sent import would fail every
 * COPY); a batch without any makes the next one try COPY again.
 */
export function startUserImport(): UserImport {
  let lastHadDuplicates = false;
  return {
    async write(db, input, rowsWanted) {
      if (input.length === 0) return { created: 0, skipped: [], rows: [] };
      const batch = input.map((u) => ({
        id: uuidv7(),
        name: u.name,
        email: normalizeEmail(u.email),
        age: u.age,
      }));
      if (!lastHadDuplicates && postgresClientOf(db)) {
        const copied = await copyBatch(db, batch, rowsWanted);
        if (copied) return copied;
      }
      const outcome = await insertSkippingDuplicates(db, batch, rowsWanted);
      lastHadDuplicates = outcome.skipped.length > 0;
      return outcome;
    },
  };
}

interface StagedUser {
  id: string;
  name: string;
  email: string;
  age: number;
}

const copyColumns = ["id", "name", "email", "age"] as const;

/** The batch by COPY, in a transaction of its own; undefined when an email already exists. */
async function copyBatch(
  db: Db,
  batch: StagedUser[],
  rowsWanted: number,
): Promise<ImportOutcome | undefined> {
  let lines = "";
  for (const u of inEmailOrder(batch))
    lines += `${u.id}\t${copyField(u.name)}\t${copyField(u.email)}\t${u.age}\n`;
  try {
    return await db.transaction(async (tx) => {
      const client = postgresClientOf(tx);
      if (!client) throw new Error("COPY needs the postgres driver");
      await copyIn(client, "users", copyColumns, lines);
      const rows = await readRows(
        tx,
        batch.slice(0, rowsWanted).map((u) => u.id),
      );
      return { created: batch.length, skipped: [], rows };
    });
  } catch (err) {
    if (sqlState(err) === "23505") return undefined;
    throw err;
  }
}

async function insertSkippingDuplicates(
  db: Db,
  batch: StagedUser[],
  rowsWanted: number,
): Promise<ImportOutcome> {
  // One array per column: four parameters however long the batch (a VALUES list would take
  // four per row, and Drizzle's builder costs more per row than the database does).
  const ordered = inEmailOrder(batch);
  const result = await db.execute<{ id: string }>(sql`
    insert into ${users} (id, name, email, age)
    select * from unnest(
      ${sql.param(ordered.map((u) => u.id))}::uuid[], ${sql.param(ordered.map((u) => u.name))}::text[],
      ${sql.param(ordered.map((u) => u.email))}::text[], ${sql.param(ordered.map((u) => u.age))}::int[])
    on conflict (email) do nothing
    returning id`);
  const created = new Set(rowsOf<{ id: string }>(result).map((r) => r.id));
  const skipped: number[] = [];
  const createdIds: string[] = [];
  batch.forEach((u, i) => {
    if (created.has(u.id)) createdIds.push(u.id);
    else skipped.push(i);
  });
  const rows = await readRows(db, createdIds.slice(0, rowsWanted));
  return { created: created.size, skipped, rows };
}

/** Users by id, in id order: UUIDv7s made in batch order sort in batch order. */
async function readRows(db: Db, ids: string[]): Promise<UserRow[]> {
  if (ids.length === 0) return [];
  return db.select(userColumns).from(users).where(inArray(users.id, ids)).orderBy(users.id);
}
