import { Redis } from "ioredis";
import { type Authenticate, createAuthenticator } from "./auth/authenticate.ts";
import { loadAuthSecrets } from "./auth/secrets.ts";
import { createTokens, type Tokens } from "./auth/tokens.ts";
import type { EventBus } from "./bus/event-bus.ts";
import { createMemoryBus } from "./bus/memory-bus.ts";
import { createRedisBus } from "./bus/redis-bus.ts";
import type { Config } from "./config.ts";
import { type Database, openDatabase } from "./db/database.ts";
import { createInstruments } from "./db/instrument.ts";
import { type HealthMonitor, startHealthMonitor } from "./health-monitor.ts";
import { createOpenCalls, type OpenCalls } from "./interceptors/open-calls.ts";
import { createLogger, type Logger } from "./logger.ts";
import { createMetrics, type Metrics } from "./metrics.ts";
import { createRateLimiter, type RateLimiter } from "./rate-limiter.ts";
import { getUser } from "./stores/user-store.ts";
import { startTelemetry, type Telemetry } from "./telemetry.ts";
import { createUserCache, type UserCache } from "./user-cache.ts";
import { type CheckMessage, createMessageChecker } from "./validation.ts";

/**
 * The long-lived dependencies of one server process, built once from config and handed
 * explicitly to everything that needs them. Tests replace parts through `overrides`.
 */
export interface AppContext {
  readonly config: Config;
  readonly logger: Logger;
  readonly database: Database;
  readonly checkMessage: CheckMessage;
  /** Carries committed events to live streams on every instance (Redis, or in-process). */
  readonly bus: EventBus;
  /** Calls in progress on this instance (a gauge, and a leak check in tests). */
  readonly openCalls: OpenCalls;
  /** GetUser's read-through cache: in-process, then Redis (with REDIS_URL), then the database. */
  readonly userCache: UserCache;
  /** Whether this instance can do its work; read by the health service and /readyz. */
  readonly health: HealthMonitor;
  /** Prometheus metrics of this instance, served at GET /metrics. */
  readonly metrics: Metrics;
  /** Tracing, when OTEL_EXPORTER_OTLP_ENDPOINT is set; undefined (and free) otherwise. */
  readonly telemetry: Telemetry | undefined;
  /** Issues and checks session tokens; knows the operator's admin token. */
  readonly tokens: Tokens;
  /** Bearer header to caller, or UNAUTHENTICATED. */
  readonly authenticate: Authenticate;
  /** Mutation rate limits per user and per client address (undefined: off). */
  readonly rateLimits: { user: RateLimiter | undefined; address: RateLimiter | undefined };
  /** Releases everything the context opened. */
  close(): Promise<void>;
}

export interface ContextOverrides {
  logger?: Logger;
  database?: Database;
  bus?: EventBus;
}

export async function createAppContext(
  config: Config,
  overrides: ContextOverrides = {},
): Promise<AppContext> {
  const logger = overrides.logger ?? createLogger(config);
  const telemetry = await startTelemetry(config, logger.child({ subsystem: "telemetry" }));
  const database =
    overrides.database ??
    (await openDatabase({
      databaseUrl: config.databaseUrl,
      dataDir: config.dataDir,
      poolSize: config.databasePoolSize,
      logger: logger.child({ subsystem: "db" }),
      instruments: createInstruments(telemetry?.tracer),
    }));
  const bus =
    overrides.bus ??
    (config.redisUrl
      ? await createRedisBus(config.redisUrl, config.redisNamespace, logger.child({ subsystem: "bus" }))
      : createMemoryBus());
  // The cache's own connection: a slow or down Redis costs a read a miss, never a stall.
  const cacheRedis = config.redisUrl
    ? new Redis(config.redisUrl, {
        lazyConnect: true,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        commandTimeout: 500,
      })
    : undefined;
  cacheRedis?.on("error", (err: Error) => logger.warn({ err: err.message, conn: "cache" }, "redis error"));
  await cacheRedis?.connect();
  const userCache = createUserCache({
    size: config.userCacheSize,
    ttlMs: config.userCacheTtlMs,
    bus,
    redis: cacheRedis,
    keyPrefix: `${config.redisNamespace}:users:`,
    logger: logger.child({ subsystem: "user-cache" }),
  });
  const health = await startHealthMonitor({
    // Looks up ping on every probe, so a test can make the database stop answering.
    probe: () => database.ping(),
    // The bus is optional: without it writes still work and streams poll the table, so a
    // Redis outage degrades the instance rather than taking it out of the balancer.
    ...(bus.ping ? { optional: { events: () => bus.ping?.() ?? Promise.resolve() } } : {}),
    intervalMs: config.healthCheckIntervalMs,
    logger: logger.child({ subsystem: "health" }),
  });
  const secrets = loadAuthSecrets({
    authSecret: config.authSecret,
    adminToken: config.adminToken,
    dataDir: config.dataDir,
    logger: logger.child({ subsystem: "auth" }),
  });
  const tokens = createTokens({ ...secrets, ttlSeconds: config.tokenTtlSeconds });
  const authenticate = createAuthenticator({
    tokens,
    // Through the user cache: a deleted user's or demoted admin's token stops working at once.
    findUser: (id) => userCache.get(id, () => getUser(database.db, id)),
  });
  const limiter = (l: { perSecond: number; burst: number }) =>
    l.perSecond > 0 ? createRateLimiter(l) : undefined;
  const rateLimits = { user: limiter(config.rateLimitUser), address: limiter(config.rateLimitAddress) };
  const openCalls = createOpenCalls();
  const metrics = createMetrics({
    openCalls: openCalls.count,
    openStreams: openCalls.streams,
    poolSize: () => database.poolSize,
    poolInFlight: () => database.inFlight(),
  });
  return {
    config,
    logger,
    database,
    metrics,
    telemetry,
    checkMessage: createMessageChecker(),
    health,
    bus,
    userCache,
    openCalls,
    tokens,
    authenticate,
    rateLimits,
    async close() {
      rateLimits.user?.close();
      rateLimits.address?.close();
      health.close();
      userCache.close();
      cacheRedis?.disconnect();
      await bus.close();
      await database.close();
      await telemetry?.shutdown();
    },
  };
}
