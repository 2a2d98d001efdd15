import { randomBytes } from "node:crypto";
import { pino } from "pino";
import postgres from "postgres";
import { type Database, openDatabase } from "../../src/db/database.ts";

export interface TestDatabase {
  /** DATABASE_URL for the server under test; undefined means embedded PGlite in memory. */
  readonly url: string | undefined;
  drop(): Promise<void>;
}

/**
 * A database of its own for one test file: with DATABASE_URL set (as CI does), a fresh
 * PostgreSQL database created next to the given one and dropped afterwards; otherwise an
 * in-memory PGlite, which vanishes with the server.
 */
export async function createTestDatabase(baseUrl = process.env.DATABASE_URL): Promise<TestDatabase> {
  if (!baseUrl) return { url: undefined, drop: async () => {} };
  const name = `switchboard_test_${randomBytes(6).toString("hex")}`;
  const admin = postgres(baseUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const admin = postgres(baseUrl, { max: 1, onnotice: () => {} });
      try {
        await admin.unsafe(`drop database if exists ${name} with (force)`);
      } finally {
        await admin.end();
      }
    },
  };
}

/**
 * A migrated database of its own, opened directly (no server): for store-level tests. close()
 * closes it and drops it.
 */
export async function openTestDatabase(poolSize = 4): Promise<Database & { close(): Promise<void> }> {
  const testDb = await createTestDatabase();
  const database = await openDatabase({
    databaseUrl: testDb.url,
    dataDir: "memory://",
    poolSize,
    logger: pino({ level: "silent" }),
  });
  return {
    ...database,
    async close() {
      await database.close();
      await testDb.drop();
    },
  };
}
