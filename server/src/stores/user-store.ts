import { and, eq, type SQL, sql } from "drizzle-orm";
import type { PgUpdateSetSource } from "drizzle-orm/pg-core";
import type { Db } from "../db/database.ts";
import { detachedRows } from "../db/detached-rows.ts";
import { oncePerHandle } from "../db/prepared.ts";
import { type Role, type UserRow, userColumns, users } from "../db/schema.ts";
import { uuidv7 } from "./uuid-v7.ts";

export interface NewUser {
  name: string;
  email: string;
  age: number;
  /** Default "user". */
  role?: Role;
  /** Already hashed (passwords.ts); undefined: the user cannot sign in yet. */
  passwordHash?: string | undefined;
}

export type UserPatch = Partial<Pick<NewUser, "name" | "email" | "age" | "role">>;

export type UpdateResult =
  | { kind: "updated"; user: UserRow }
  | { kind: "not_found" }
  | { kind: "stale"; currentVersion: number };

/** Emails compare case-insensitively; storing them lower-cased lets a plain unique index decide. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

export async function createUser(db: Db, input: NewUser): Promise<UserRow> {
  const [row] = await insertUserStatement(db).execute({
    id: uuidv7(),
    name: input.name,
    email: normalizeEmail(input.email),
    age: input.age,
    role: input.role ?? "user",
    passwordHash: input.passwordHash ?? null,
  });
  if (!row) throw new Error("insert returned no row");
  return row;
}

function prepareInsertUser(db: Db) {
  return db
    .insert(users)
    .values({
      id: sql.placeholder("id"),
      name: sql.placeholder("name"),
      email: sql.placeholder("email"),
      age: sql.placeholder("age"),
      role: sql.placeholder("role"),
      passwordHash: sql.placeholder("passwordHash"),
    })
    .returning(userColumns)
    .prepare("insert_user");
}

const insertUserStatement = oncePerHandle(prepareInsertUser);

/**
 * Creates several users in one statement: one round trip and one commit for all of them
 * (CreateUser calls that arrive together, user-inserts.ts). A user whose email is taken, in
 * the table or by an earlier user of the batch, is not created: undefined in their place.
 * Any other failure fails the whole statement, and nothing of it stays.
 */
export async function insertUsers(db: Db, input: readonly NewUser[]): Promise<(UserRow | undefined)[]> {
  const staged = input.map((u) => ({ ...u, id: uuidv7(), email: normalizeEmail(u.email) }));
  const rows = inEmailOrder(staged);
  const created = await insertUsersStatement(db).execute({
    ids: rows.map((u) => u.id),
    names: rows.map((u) => u.name),
    emails: rows.map((u) => u.email),
    ages: rows.map((u) => u.age),
    roles: rows.map((u) => u.role ?? "user"),
    passwordHashes: rows.map((u) => u.passwordHash ?? null),
  });
  const byId = new Map(created.map((row) => [row.id, row]));
  return staged.map((u) => byId.get(u.id));
}

/**
 * The order every multi-row insert of users writes its rows in: by (normalized) email, ties
 * in their given order. Two statements that share emails then take the unique index's locks
 * in the same order, so one waits for the other instead of both deadlocking (measured: two
 * 60-row inserts of the same emails in opposite orders deadlocked in 5 of 20 tries).
 */
export function inEmailOrder<T extends { email: string }>(rows: readonly T[]): T[] {
  // Array.prototype.sort is stable: of two rows with one email, the first given goes first.
  return [...rows].sort((a, b) => (a.email < b.email ? -1 : a.email > b.email ? 1 : 0));
}

/**
 * One array parameter per column, so one statement text (prepared once) for any batch size.
 * Drizzle inserts a SELECT into every column in table order: the ones not given take the
 * same values as their defaults in schema.ts (a test holds the rows to CreateUser's own).
 */
function prepareInsertUsers(db: Db) {
  return db
    .insert(users)
    .select(sql`
      select u.id, u.name, u.email, u.age, now(), now(), 1, u.role, u.password_hash, 0
      from unnest(
        ${sql.placeholder("ids")}::uuid[], ${sql.placeholder("names")}::text[],
        ${sql.placeholder("emails")}::text[], ${sql.placeholder("ages")}::int[],
        ${sql.placeholder("roles")}::text[], ${sql.placeholder("passwordHashes")}::text[]
      ) as u(id, name, email, age, role, password_hash)`)
    .onConflictDoNothing({ target: users.email })
    .returning(userColumns)
    .prepare("insert_users");
}

const insertUsersStatement = oncePerHandle(prepareInsertUsers);

export async function getUser(db: Db, id: string): Promise<UserRow | undefined> {
  const [row] = await db.select(userColumns).from(users).where(eq(users.id, id));
  return row;
}

/** What sign-in needs: the user and their password hash (null: no password set). */
export async function getCredentials(
  db: Db,
  email: string,
): Promise<{ user: UserRow; passwordHash: string | null } | undefined> {
  const [row] = await db
    .select({ user: userColumns, passwordHash: users.passwordHash })
    .from(users)
    .where(eq(users.email, normalizeEmail(email)));
  return row;
}

export async function getPasswordHash(db: Db, id: string): Promise<string | null | undefined> {
  const [row] = await db.select({ passwordHash: users.passwordHash }).from(users).where(eq(users.id, id));
  return row?.passwordHash;
}

/** Sets the hash and bumps the version (so caches and sessions see a change). False: no such user. */
export async function setPasswordHash(
  db: Db,
  id: string,
  passwordHash: string,
): Promise<UserRow | undefined> {
  const [row] = await db
    .update(users)
    .set({
      passwordHash,
      // Every session issued before the change ends (authenticate.ts compares the epochs).
      sessionEpoch: sql`${users.sessionEpoch} + 1`,
      version: sql`${users.version} + 1`,
      updateTime: sql`now()`,
    })
    .where(eq(users.id, id))
    .returning(userColumns);
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
  if (patch.role !== undefined) set.role = patch.role;
  const where =
    expectedVersion === undefined
      ? eq(users.id, id)
      : and(eq(users.id, id), eq(users.version, expectedVersion));
  const [row] = await db.update(users).set(set).where(where).returning(userColumns);
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
  /** Only this user (what a non-admin may list). */
  only?: string | undefined;
  limit: number;
}

/**
 * A user as ListUsers streams it: the columns ready to encode, timestamps as epoch
 * milliseconds (the columns' precision, exact in a double) and the version as text, so a
 * page costs the driver no Date and no BigInt per row, and Drizzle no row mapping.
 */
export interface UserListRow {
  id: string;
  name: string;
  email: string;
  age: number;
  createMs: number;
  updateMs: number;
  /** int64 as decimal text. */
  version: string;
  role: Role;
}

/** One keyset page in id order: cost and memory depend on `limit`, never on the table size. */
export async function listUsersPage(db: Db, page: UserPageQuery): Promise<UserListRow[]> {
  const filters: SQL[] = [];
  if (page.after !== undefined) filters.push(sql`${users.id} > ${page.after}`);
  if (page.only !== undefined) filters.push(sql`${users.id} = ${page.only}`);
  if (page.query) {
    const pattern = `%${escapeLike(page.query)}%`;
    filters.push(sql`(${users.name} ilike ${pattern} or ${users.email} ilike ${pattern})`);
  }
  const where = filters.length > 0 ? sql`where ${sql.join(filters, sql` and `)}` : sql``;
  return detachedRows<UserListRow>(
    db,
    sql`
    select ${users.id} as "id", ${users.name} as "name", ${users.email} as "email", ${users.age} as "age",
      (extract(epoch from ${users.createTime}) * 1000)::float8 as "createMs",
      (extract(epoch from ${users.updateTime}) * 1000)::float8 as "updateMs",
      ${users.version}::text as "version", ${users.role} as "role"
    from ${users} ${where}
    order by ${users.id}
    limit ${page.limit}`,
  );
}

function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}
