import { mkdirSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import { sql } from "drizzle-orm";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";
import type { Logger } from "../logger.ts";
import { createInstruments, type Instruments, instrumentPglite, instrumentPostgres } from "./instrument.ts";
import * as schema from "./schema.ts";

/**
 * The Drizzle database every store takes. PGlite and postgres-js both extend PgDatabase, so
 * code above this file never knows which driver it runs on; a transaction has the same type.
 */
export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

export interface Database {
  readonly db: Db;
  readonly driver: "pglite" | "postgres";
  /** Connections the pool may open (PGlite: one). */
  readonly poolSize: number;
  /** Transactions and statements outside them now holding or waiting for a connection. */
  inFlight(): number;
  /** Resolves when the database answers a trivial query. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  databaseUrl: string | undefined;
  dataDir: string;
  poolSize: number;
  logger: Logger;
  /** Counts work in flight and, with a tracer, gives it spans (default: counting only). */
  instruments?: Instruments;
}

const migrationsFolder = fileURLToPath(new URL("../../../drizzle", import.meta.url));

// Any fixed 64-bit number shared by all instances; it names the migration lock.
const migrationLockId = 0x5717_c4b0_a4d0n;

/** Opens the database, applying pending migrations first. */
export async function openDatabase(opts: DatabaseOptions): Promise<Database> {
  return opts.databaseUrl === undefined ? openPglite(opts) : openPostgres(opts.databaseUrl, opts);
}

async function openPglite(opts: DatabaseOptions): Promise<Database> {
  // memory:// keeps an embedded database off disk, for tests.
  if (!opts.dataDir.startsWith("memory://")) mkdirSync(opts.dataDir, { recursive: true });
  const client = await PGlite.create(opts.dataDir.startsWith("memory://") ? undefined : `${opts.dataDir}/pg`);
  // One process owns a PGlite directory, so no lock is needed around migrations.
  await migratePglite(drizzlePglite({ client, schema }), { migrationsFolder });
  const instruments = opts.instruments ?? createInstruments(undefined);
  const db = drizzlePglite({ client: instrumentPglite(client, instruments), schema });
  opts.logger.info({ dataDir: opts.dataDir }, "embedded database ready");
  return {
    db: db as unknown as Db,
    driver: "pglite",
    poolSize: 1,
    inFlight: instruments.inFlight,
    ping: async () => {
      await db.execute(sql`select 1`);
    },
    close: () => client.close(),
  };
}

async function openPostgres(url: string, opts: DatabaseOptions): Promise<Database> {
  await migrateWithLock(url, opts.logger);
  const client = postgres(url, {
    max: opts.poolSize,
    idle_timeout: 60,
    connect_timeout: 10,
    onnotice: () => {},
    socket: noDelaySockets(),
  } as postgres.Options<Record<string, postgres.PostgresType>>);
  const instruments = opts.instruments ?? createInstruments(undefined);
  const db = drizzlePostgres({ client: instrumentPostgres(client, instruments), schema });
  return {
    db: db as unknown as Db,
    driver: "postgres",
    poolSize: opts.poolSize,
    inFlight: instruments.inFlight,
    ping: async () => {
      await client`select 1`;
    },
    close: () => client.end({ timeout: 5 }),
  };
}

/** What postgres-js tells a `socket` factory of where to connect (host lists rotate). */
interface SocketTarget {
  host: string[];
  port: number[];
  path: string | false;
}

/**
 * postgres-js's connections as it would open them, but with Nagle's algorithm off: it leaves
 * it on, so a small message right after a large one (the end of a COPY, the COMMIT after it)
 * waited for the server's delayed ACK, about 40 ms per batch of an import (measured: a
 * 1,000-row COPY and its commit took 58 ms with it, 25 ms without). Hosts are tried in turn,
 * as postgres-js does on reconnects.
 */
function noDelaySockets(): (target: SocketTarget) => Socket {
  let next = 0;
  return (target) => {
    const i = next++ % target.host.length;
    const socket = target.path
      ? connect(target.path)
      : connect({ host: target.host[i] ?? "localhost", port: target.port[i] ?? 5432 });
    socket.setNoDelay(true);
    return socket;
  };
}

/**
 * Drizzle's migrate() takes no lock, so instances starting together could apply the same
 * migration twice. A session advisory lock on a dedicated one-connection client serialises
 * them: the second instance waits, then finds nothing left to apply.
 */
async function migrateWithLock(url: string, logger: Logger): Promise<void> {
  const client = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await client`select pg_advisory_lock(${migrationLockId.toString()}::bigint)`;
    try {
      await migratePostgres(drizzlePostgres({ client }), { migrationsFolder });
    } finally {
      await client`select pg_advisory_unlock(${migrationLockId.toString()}::bigint)`;
    }
    logger.info("database migrations applied");
  } finally {
    await client.end({ timeout: 5 });
  }
}
