import { after, before } from "node:test";
import { pino } from "pino";
import { type Database, openDatabase } from "../../src/db/database.ts";
import { createTestDatabase, type TestDatabase } from "./test-database.ts";

export interface Driver {
  readonly name: "PGlite" | "PostgreSQL";
  /** A migrated database on this driver, closed (and a PostgreSQL one dropped) after the file. */
  open(): Promise<Database>;
}

/**
 * The two database drivers a store-level test file runs against: embedded PGlite always, and
 * PostgreSQL (postgres-js) when DATABASE_URL is set, in a database of the file's own. Call it
 * at the top level of a test file: it registers the file's before and after hooks.
 */
export function bothDrivers(): Driver[] {
  let testDb: TestDatabase | undefined;
  const opened: Database[] = [];
  before(async () => {
    if (process.env.DATABASE_URL) testDb = await createTestDatabase();
  });
  after(async () => {
    for (const d of opened) await d.close();
    await testDb?.drop();
  });
  const open = async (databaseUrl: string | undefined) => {
    const database = await openDatabase({
      databaseUrl,
      dataDir: "memory://",
      poolSize: 2,
      logger: pino({ level: "silent" }),
    });
    opened.push(database);
    return database;
  };
  return [
    { name: "PGlite", open: () => open(undefined) },
    ...(process.env.DATABASE_URL ? [{ name: "PostgreSQL" as const, open: () => open(testDb?.url) }] : []),
  ];
}
