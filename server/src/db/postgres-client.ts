import { is } from "drizzle-orm";
import { PostgresJsSession } from "drizzle-orm/postgres-js";
import type { Sql } from "postgres";
import type { Db } from "./database.ts";

/**
 * The postgres-js client under a Drizzle database or transaction (a transaction's own client,
 * on its connection), for what Drizzle does not expose (COPY FROM STDIN, forEach); undefined
 * on PGlite.
 */
export function postgresClientOf(db: Db): Sql | undefined {
  const session: unknown = db._.session;
  return is(session, PostgresJsSession) ? (session.client as Sql) : undefined;
}
