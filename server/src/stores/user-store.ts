import { and, asc, eq, gt, ilike, or, type SQL, sql } from "drizzle-orm";
import type { PgUpdateSetSource } from "drizzle-orm/pg-core";
import { v7 as uuidv7 } from "uuid";
import type { Db } from "../db/database.ts";
import { type UserRow, users } from "../db/schema.ts";

export interface NewUser {
  name: string;
  email: string;
  age: number;
}

export type UserPatch = Partial<NewUser>;

export type UpdateResult =
  | { kind: "updated"; user: UserRow }
  | { kind: "not_found" }
  | { kind: "stale"; currentVersion: number };

/** Emails compare case-insensitively; storing them lower-cased lets a plain unique index decide. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

export async function createUser(db: Db, input: NewUser): Promise<UserRow> {
  const [row] = await db
    .insert(users)
    .values({ id: uuidv7(), name: input.name, email: normalizeEmail(input.email), age: input.age })
    .returning();
  if (!row) throw new Error("insert returned no row");
  return row;
}

/**
 * Inserts many users in one statement. Rows whose email already exists (in the table or
 * earlier in the same batch) are skipped rather than failing the batch; the caller learns
 * which by comparing the returned emails with what it sent.
 */
export async function insertUsers(db: Db, input: NewUser[]): Promise<UserRow[]> {
  if (input.length === 0) return [];
  return db
    .insert(users)
    .values(input.map((u) => ({ id: uuidv7(), name: u.name, email: normalizeEmail(u.email), age: u.age })))
    .onConflictDoNothing({ target: users.email })
    .returning();
}

export async function getUser(db: Db, id: string): Promise<UserRow | undefined> {
  const [row] = await db.select().from(users).where(eq(users.id, id));
  return row;
}

/**
 * Applies `patch` and bumps the version. With `expectedVersion`, the row changes only if its
 * version still matches, in the same statement, so two writers cannot both win.
 */
export async function updateUser(
  db: Db,
  id: string,
  patch: UserPatch,
  expectedVersion?: number,
): Promise<UpdateResult> {
  const set: PgUpdateSetSource<typeof users> = {
    version: sql`${users.version} + 1`,
    updateTime: sql`now()`,
  };
  if (patch.name !== undefined) set.name = patch.name;
  if (patch.email !== undefined) set.email = normalizeEmail(patch.email);
  if (patch.age !== undefined) set.age = patch.age;
  const where =
    expectedVersion === undefined
      ? eq(users.id, id)
      : and(eq(users.id, id), eq(users.version, expectedVersion));
  const [row] = await db.update(users).set(set).where(where).returning();
  if (row) return { kind: "updated", user: row };
  const current = await getUser(db, id);
  return current ? { kind: "stale", currentVersion: current.version } : { kind: "not_found" };
}

export async function deleteUser(db: Db, id: string): Promise<boolean> {
  const rows = await db.delete(users).where(eq(users.id, id)).returning({ id: users.id });
  return rows.length > 0;
}

export interface UserPageQuery {
  /** Return users with an id greater than this one. */
  after?: string | undefined;
  /** Case-insensitive substring of name or email. */
  query?: string | undefined;
  limit: number;
}

/** One keyset page in id order: cost and memory depend on `limit`, never on the table size. */
export async function listUsersPage(db: Db, page: UserPageQuery): Promise<UserRow[]> {
  const filters: SQL[] = [];
  if (page.after !== undefined) filters.push(gt(users.id, page.after));
  if (page.query) {
    const pattern = `%${escapeLike(page.query)}%`;
    const match = or(ilike(users.name, pattern), ilike(users.email, pattern));
    if (match) filters.push(match);
  }
  return db
    .select()
    .from(users)
    .where(filters.length > 0 ? and(...filters) : undefined)
    .orderBy(asc(users.id))
    .limit(page.limit);
}

function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}
