import { randomUUID } from "node:crypto";
import { pino } from "pino";
import { type Config, loadConfig } from "../../src/config.ts";
import type { ContextOverrides } from "../../src/context.ts";
import { type RunningServer, startServer } from "../../src/server.ts";
import { testAuthEnv } from "./auth.ts";
import { createTestDatabase } from "./test-database.ts";

export interface TestServer extends RunningServer {
  /** Stops the server and drops its database. */
  close(): Promise<void>;
}

/**
 * The real server on a free port with a database of its own (see createTestDatabase).
 * `env` takes the same variables as the process environment, e.g. { MAX_MESSAGE_BYTES: "2048" };
 * the admin token and signing key are fixed (support/auth.ts) and limits are off unless set;
 * `overrides` replaces parts of the context (e.g. a logger that writes to memory).
 */
export async function startTestServer(
  env: Record<string, string> = {},
  overrides: ContextOverrides = {},
): Promise<TestServer> {
  const database = await createTestDatabase();
  const config: Config = loadConfig({
    PORT: "0",
    HOST: "127.0.0.1",
    DATA_DIR: "memory://",
    DRAIN_TIMEOUT_MS: "2000",
    ...testAuthEnv,
    // UNARY_FAST_PATH=false runs a suite with connect-node serving every call (for comparison).
    ...(process.env.UNARY_FAST_PATH ? { UNARY_FAST_PATH: process.env.UNARY_FAST_PATH } : {}),
    ...(database.url ? { DATABASE_URL: database.url } : {}),
    ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}),
    // Each embedded database is its own deployment: keep its events off the others' channels.
    ...(database.url ? {} : { REDIS_NAMESPACE: `switchboard-test:${randomUUID()}` }),
    ...env,
  });
  const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" });
  let server: RunningServer;
  try {
    server = await startServer(config, { logger, ...overrides });
  } catch (err) {
    await database.drop();
    throw err;
  }
  return Object.assign(Object.create(server) as RunningServer, server, {
    async close() {
      await server.stop();
      await database.drop();
    },
  });
}
