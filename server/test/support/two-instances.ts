import { pino } from "pino";
import { loadConfig } from "../../src/config.ts";
import { type RunningServer, startServer } from "../../src/server.ts";
import { testAuthEnv } from "./auth.ts";
import { startTestRedis, type TestRedis } from "./redis-server.ts";
import { createTestDatabase } from "./test-database.ts";

/** Two instances behind an imaginary load balancer: one fresh PostgreSQL database, one Redis of the test's own. */
export interface TwoInstances {
  readonly a: RunningServer;
  readonly b: RunningServer;
  /** The test's Redis: stop and start it to inject an outage. */
  readonly redis: TestRedis;
  /** Stops both instances and the Redis, and drops the database. */
  stop(): Promise<void>;
}

/**
 * Starts the pair; `env` adds settings (as environment variables) shared by both instances. Both
 * share the test admin token and signing key (support/auth.ts), so a session token from one is
 * good on the other; limits are off unless `env` sets them.
 */
export async function startTwoInstances(env: Record<string, string> = {}): Promise<TwoInstances> {
  const database = await createTestDatabase();
  const redis = await startTestRedis();
  const config = loadConfig({
    PORT: "0",
    HOST: "127.0.0.1",
    DATABASE_URL: database.url,
    REDIS_URL: redis.url,
    DRAIN_TIMEOUT_MS: "1000",
    ...testAuthEnv,
    ...env,
  });
  const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" });
  const [a, b] = await Promise.all([startServer(config, { logger }), startServer(config, { logger })]);
  return {
    a,
    b,
    redis,
    async stop() {
      await Promise.all([a.stop(), b.stop()]);
      await redis.stop();
      await database.drop();
    },
  };
}
