import { randomBytes } from "node:crypto";
import postgres from "postgres";

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
