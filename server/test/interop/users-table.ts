// Direct access to the server's users table, for what no RPC can do: make a handler wait, and
// fill the table fast.
import { sql } from "drizzle-orm";
import postgres from "postgres";
import type { TestServer } from "../support/test-server.ts";

/**
 * Blocks every query on the users table until `release()` is called, so a handler waits for
 * as long as the test wants. On PostgreSQL, a connection of our own holds an ACCESS EXCLUSIVE
 * lock (reads wait too; the server's statement_timeout still applies to the wait). PGlite runs
 * one transaction at a time, so holding one open transaction there stalls every other query.
 */
export async function lockUsersTable(server: TestServer): Promise<{ release(): Promise<void> }> {
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let locked!: () => void;
  const isLocked = new Promise<void>((resolve) => {
    locked = resolve;
  });
  const url = server.ctx.config.databaseUrl;
  let done: Promise<unknown>;
  if (url) {
    const pg = postgres(url, { max: 1, onnotice: () => {} });
    done = pg
      .begin(async (tx) => {
        await tx`lock table users in access exclusive mode`;
        locked();
        await released;
      })
      .finally(() => pg.end({ timeout: 5 }));
  } else {
    done = server.ctx.database.db.transaction(async (tx) => {
      await tx.execute(sql`lock table users in access exclusive mode`);
      locked();
      await released;
    });
  }
  await Promise.race([isLocked, done]);
  return {
    async release() {
      release();
      await done;
    },
  };
}

/** Inserts `count` users named `${tag}-n` in one statement; emails are `${tag}-n@seed.example`. */
export async function seedUsers(server: TestServer, tag: string, count: number): Promise<void> {
  await server.ctx.database.db.execute(sql`
    insert into users (id, name, email, age)
    select gen_random_uuid(), ${tag} || '-' || n, ${tag} || '-' || n || '@seed.example', 30
    from generate_series(1, ${count}::int) as n`);
}
