/**
 * Typed configuration, read once from the environment at start. Every value is checked here
 * so that a bad setting stops the process with one clear line instead of failing later.
 */
export interface Config {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string | undefined;
  databasePoolSize: number;
  redisUrl: string | undefined;
  /** Prefix of this deployment's Redis channels and keys; instances of one deployment share it. */
  redisNamespace: string;
  logLevel: "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "silent";
  tls: { cert: string; key: string } | undefined;
  /** Largest message accepted or sent, in bytes; larger is RESOURCE_EXHAUSTED. */
  maxMessageBytes: number;
  /** HTTP/2 streams one connection may have open at once. */
  maxConcurrentStreams: number;
  /** Time a client has to send its request headers. */
  headersTimeoutMs: number;
  /** Longest deadline a client may ask for, and the deadline of calls that ask for none (0: none). */
  maxDeadlineMs: number;
  /** How long a shutdown waits for open calls before it closes them. */
  drainTimeoutMs: number;
  /** How often the health monitor pings the database; also how stale /readyz and health may be. */
  healthCheckIntervalMs: number;
  /** Live events a stream may hold for a client that lags; past it the stream ends (RESOURCE_EXHAUSTED). */
  streamBufferEvents: number;
  /** How often a live stream with a quiet bus checks the events table (covers a lossy or down bus). */
  eventPollMs: number;
  /** How often a quiet live stream checks the events table while the bus is connected. */
  eventSafetyPollMs: number;
  /** Users GetUser keeps in each instance's memory (0: none); the LRU drops the least recently read. */
  userCacheSize: number;
  /** Life of a cached user, in memory and in Redis: the most a lost invalidation leaves a stale read. */
  userCacheTtlMs: number;
  /** OTLP/HTTP collector base URL; traces go to `<url>/v1/traces`. Unset: tracing is off. */
  otelExporterOtlpEndpoint: string | undefined;
  /** service.name on exported spans. */
  otelServiceName: string;
  /** Key that signs session tokens (AUTH_SECRET); unset: generated and kept under DATA_DIR. */
  authSecret: string | undefined;
  /** The operator's admin bearer token (ADMIN_TOKEN); unset: generated, printed once, kept under DATA_DIR. */
  adminToken: string | undefined;
  /** Life of a session token from SignIn. */
  tokenTtlSeconds: number;
  /** Origins whose browsers may call cross-origin ("*": any); empty: same origin only. */
  corsOrigins: string[];
  /** Take the client address from the last X-Forwarded-For hop (only behind a proxy that sets it). */
  trustProxy: boolean;
  /** Mutations per second per user, and the burst allowed (0 per second: no limit). */
  rateLimitUser: { perSecond: number; burst: number };
  /** Mutations per second per client address, and the burst allowed (0 per second: no limit). */
  rateLimitAddress: { perSecond: number; burst: number };
  /** Open streams per user (admins exempt) and per client address on one instance; 0: no limit. */
  maxStreamsPerUser: number;
  /** Unary calls one user may have running at once (admins exempt), and waiting beyond them. */
  maxCallsPerUser: number;
  maxQueuedCallsPerUser: number;
  maxStreamsPerAddress: number;
  /** A response whose client has not read for this long is reset (0: never). */
  streamWriteTimeoutMs: number;
  /** Serve common unary calls on the fast path (fast-unary.ts); false: connect-node serves all. */
  unaryFastPath: boolean;
  /** Calls started per event-loop turn before the rest queue fairly by connection (fair-dispatch.ts). */
  dispatchPerTurn: number;
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(`${name} must be a whole number, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max)
    throw new ConfigError(`${name} must be between ${min} and ${max}, got ${value}`);
  return value;
}

function url(env: Env, name: string, protocols: string[]): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw === "") return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(`${name} is not a URL: "${raw}"`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(`${name} must start with ${protocols.map((p) => `${p}//`).join(" or ")}`);
  }
  return raw;
}

const logLevels = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;

export function loadConfig(env: Env = process.env): Config {
  const logLevel = env.LOG_LEVEL || "info";
  if (!(logLevels as readonly string[]).includes(logLevel)) {
    throw new ConfigError(`LOG_LEVEL must be one of ${logLevels.join(", ")}, got "${logLevel}"`);
  }
  const cert = env.TLS_CERT || undefined;
  const key = env.TLS_KEY || undefined;
  if ((cert === undefined) !== (key === undefined)) {
    throw new ConfigError("TLS_CERT and TLS_KEY must be set together");
  }
  return {
    port: int(env, "PORT", 8080, 0, 65535),
    host: env.HOST || "0.0.0.0",
    dataDir: env.DATA_DIR || "./.data",
    databaseUrl: url(env, "DATABASE_URL", ["postgres:", "postgresql:"]),
    databasePoolSize: int(env, "DATABASE_POOL_SIZE", 10, 1, 1000),
    redisUrl: url(env, "REDIS_URL", ["redis:", "rediss:"]),
    redisNamespace: env.REDIS_NAMESPACE || `switchboard:${databaseName(env.DATABASE_URL)}`,
    logLevel: logLevel as Config["logLevel"],
    tls: cert && key ? { cert, key } : undefined,
    maxMessageBytes: int(env, "MAX_MESSAGE_BYTES", 4 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    maxConcurrentStreams: int(env, "MAX_CONCURRENT_STREAMS", 100, 1, 10000),
    headersTimeoutMs: int(env, "HEADERS_TIMEOUT_MS", 10_000, 100, 600_000),
    maxDeadlineMs: int(env, "MAX_DEADLINE_MS", 0, 0, 86_400_000),
    drainTimeoutMs: int(env, "DRAIN_TIMEOUT_MS", 10_000, 0, 600_000),
    healthCheckIntervalMs: int(env, "HEALTH_CHECK_INTERVAL_MS", 2000, 10, 600_000),
    streamBufferEvents: int(env, "STREAM_BUFFER_EVENTS", 1000, 1, 1_000_000),
    eventPollMs: int(env, "EVENT_POLL_MS", 2000, 10, 600_000),
    eventSafetyPollMs: int(env, "EVENT_SAFETY_POLL_MS", 30_000, 10, 3_600_000),
    userCacheSize: int(env, "USER_CACHE_SIZE", 10_000, 0, 10_000_000),
    userCacheTtlMs: int(env, "USER_CACHE_TTL_MS", 60_000, 1, 86_400_000),
    otelExporterOtlpEndpoint: url(env, "OTEL_EXPORTER_OTLP_ENDPOINT", ["http:", "https:"]),
    otelServiceName: serviceName(env.OTEL_SERVICE_NAME),
    authSecret: secret(env, "AUTH_SECRET"),
    adminToken: secret(env, "ADMIN_TOKEN"),
    tokenTtlSeconds: int(env, "TOKEN_TTL_SECONDS", 3600, 60, 7 * 86_400),
    corsOrigins: origins(env.CORS_ORIGINS),
    trustProxy: bool(env, "TRUST_PROXY"),
    rateLimitUser: {
      perSecond: int(env, "RATE_LIMIT_USER_PER_SECOND", 10, 0, 1_000_000),
      burst: int(env, "RATE_LIMIT_USER_BURST", 40, 1, 10_000_000),
    },
    rateLimitAddress: {
      perSecond: int(env, "RATE_LIMIT_ADDRESS_PER_SECOND", 100, 0, 1_000_000),
      burst: int(env, "RATE_LIMIT_ADDRESS_BURST", 200, 1, 10_000_000),
    },
    maxStreamsPerUser: int(env, "MAX_STREAMS_PER_USER", 32, 0, 1_000_000),
    maxCallsPerUser: int(env, "MAX_CALLS_PER_USER", 4, 0, 1_000_000),
    maxQueuedCallsPerUser: int(env, "MAX_QUEUED_CALLS_PER_USER", 256, 0, 1_000_000),
    maxStreamsPerAddress: int(env, "MAX_STREAMS_PER_ADDRESS", 512, 0, 1_000_000),
    streamWriteTimeoutMs: int(env, "STREAM_WRITE_TIMEOUT_MS", 30_000, 0, 3_600_000),
    dispatchPerTurn: int(env, "DISPATCH_PER_TURN", 128, 1, 100_000),
    unaryFastPath: bool(env, "UNARY_FAST_PATH", true),
  };
}

/** A secret from the environment: printable, no spaces, at least 32 characters. */
function secret(env: Env, name: string): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw === "") return undefined;
  if (!/^[\x21-\x7e]{32,4096}$/.test(raw)) {
    throw new ConfigError(`${name} must be 32 to 4096 printable characters without spaces`);
  }
  return raw;
}

function bool(env: Env, name: string, fallback = false): boolean {
  const raw = (env[name] ?? "").toLowerCase();
  if (raw === "") return fallback;
  if (raw === "false" || raw === "0") return false;
  if (raw === "true" || raw === "1") return true;
  throw new ConfigError(`${name} must be true or false, got "${raw}"`);
}

/** CORS_ORIGINS: comma-separated origins such as https://app.example.com, or "*". */
function origins(raw: string | undefined): string[] {
  const list = (raw ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  for (const origin of list) {
    if (origin === "*") continue;
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {}
    if (!parsed || parsed.origin !== origin) {
      throw new ConfigError(
        `CORS_ORIGINS entries must be origins like https://app.example.com, got "${origin}"`,
      );
    }
  }
  return list;
}

function serviceName(raw: string | undefined): string {
  if (raw === undefined || raw === "") return "switchboard";
  if (!/^[\w.:/-]{1,128}$/.test(raw)) {
    throw new ConfigError(`OTEL_SERVICE_NAME must be 1-128 letters, digits or . _ : / -, got "${raw}"`);
  }
  return raw;
}

/** The database a URL names ("embedded" without one): the default Redis namespace. */
function databaseName(databaseUrl: string | undefined): string {
  if (!databaseUrl) return "embedded";
  try {
    return new URL(databaseUrl).pathname.slice(1) || "postgres";
  } catch {
    return "postgres";
  }
}
