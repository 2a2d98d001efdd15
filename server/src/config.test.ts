import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError, loadConfig } from "./config.ts";

test("defaults need no environment at all", () => {
  const config = loadConfig({});
  assert.equal(config.port, 8080);
  assert.equal(config.dataDir, "./.data");
  assert.equal(config.databaseUrl, undefined);
  assert.equal(config.redisUrl, undefined);
  assert.equal(config.tls, undefined);
  assert.equal(config.maxMessageBytes, 4 * 1024 * 1024);
  assert.equal(config.otelExporterOtlpEndpoint, undefined, "tracing is off unless asked for");
  assert.equal(config.otelServiceName, "switchboard");
});

test("values are parsed and checked", () => {
  const config = loadConfig({
    PORT: "9000",
    DATABASE_URL: "postgres://u@h:5432/db",
    REDIS_URL: "redis://127.0.0.1:6379",
    LOG_LEVEL: "debug",
    MAX_MESSAGE_BYTES: "2048",
  });
  assert.equal(config.port, 9000);
  assert.equal(config.databaseUrl, "postgres://u@h:5432/db");
  assert.equal(config.logLevel, "debug");
  assert.equal(config.maxMessageBytes, 2048);
});

test("security settings: secure defaults, every limit configurable", () => {
  const defaults = loadConfig({});
  assert.equal(defaults.adminToken, undefined, "generated under DATA_DIR when unset");
  assert.equal(defaults.authSecret, undefined);
  assert.equal(defaults.tokenTtlSeconds, 3600);
  assert.deepEqual(defaults.corsOrigins, [], "same origin only");
  assert.equal(defaults.trustProxy, false);
  assert.ok(defaults.rateLimitUser.perSecond > 0 && defaults.rateLimitAddress.perSecond > 0, "limits are on");
  assert.ok(defaults.maxStreamsPerUser > 0 && defaults.maxStreamsPerAddress > 0);
  assert.ok(defaults.maxCallsPerUser > 0 && defaults.maxQueuedCallsPerUser > 0);
  assert.ok(defaults.streamWriteTimeoutMs > 0);
  const config = loadConfig({
    ADMIN_TOKEN: "t".repeat(32),
    AUTH_SECRET: "s".repeat(48),
    TOKEN_TTL_SECONDS: "600",
    CORS_ORIGINS: "https://app.example.com, http://localhost:5173",
    TRUST_PROXY: "true",
    RATE_LIMIT_USER_PER_SECOND: "5",
    RATE_LIMIT_USER_BURST: "7",
    RATE_LIMIT_ADDRESS_PER_SECOND: "0",
    MAX_STREAMS_PER_USER: "3",
    MAX_STREAMS_PER_ADDRESS: "9",
    MAX_CALLS_PER_USER: "2",
    MAX_QUEUED_CALLS_PER_USER: "0",
    STREAM_WRITE_TIMEOUT_MS: "1500",
  });
  assert.equal(config.adminToken, "t".repeat(32));
  assert.equal(config.authSecret, "s".repeat(48));
  assert.equal(config.tokenTtlSeconds, 600);
  assert.deepEqual(config.corsOrigins, ["https://app.example.com", "http://localhost:5173"]);
  assert.equal(config.trustProxy, true);
  assert.deepEqual(config.rateLimitUser, { perSecond: 5, burst: 7 });
  assert.equal(config.rateLimitAddress.perSecond, 0, "0 turns a limit off");
  assert.equal(config.maxStreamsPerUser, 3);
  assert.equal(config.maxStreamsPerAddress, 9);
  assert.equal(config.maxCallsPerUser, 2);
  assert.equal(config.maxQueuedCallsPerUser, 0);
  assert.equal(config.streamWriteTimeoutMs, 1500);
});

test("a bad value stops start-up with a message naming the variable", () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ PORT: "eighty" }, /PORT must be a whole number/],
    [{ PORT: "70000" }, /PORT must be between 0 and 65535/],
    [{ DATABASE_URL: "mysql://x" }, /DATABASE_URL must start with postgres:\/\//],
    [{ DATABASE_URL: "::" }, /DATABASE_URL is not a URL/],
    [{ REDIS_URL: "http://x" }, /REDIS_URL must start with redis:\/\//],
    [{ LOG_LEVEL: "loud" }, /LOG_LEVEL must be one of/],
    [{ TLS_CERT: "cert.pem" }, /TLS_CERT and TLS_KEY must be set together/],
    [{ MAX_MESSAGE_BYTES: "10" }, /MAX_MESSAGE_BYTES must be between/],
    [
      { OTEL_EXPORTER_OTLP_ENDPOINT: "grpc://collector:4317" },
      /OTEL_EXPORTER_OTLP_ENDPOINT must start with http:\/\//,
    ],
    [{ OTEL_SERVICE_NAME: "two words" }, /OTEL_SERVICE_NAME must be/],
    [{ ADMIN_TOKEN: "short" }, /ADMIN_TOKEN must be 32 to 4096 printable characters/],
    [{ AUTH_SECRET: `${"x".repeat(31)} ` }, /AUTH_SECRET must be 32 to 4096/],
    [{ TOKEN_TTL_SECONDS: "5" }, /TOKEN_TTL_SECONDS must be between 60/],
    [{ CORS_ORIGINS: "https://app.example.com/path" }, /CORS_ORIGINS entries must be origins/],
    [{ CORS_ORIGINS: "app.example.com" }, /CORS_ORIGINS entries must be origins/],
    [{ TRUST_PROXY: "yes" }, /TRUST_PROXY must be true or false/],
    [{ RATE_LIMIT_USER_BURST: "0" }, /RATE_LIMIT_USER_BURST must be between 1/],
  ];
  for (const [env, message] of cases) {
    assert.throws(
      () => loadConfig(env),
      (err: unknown) => err instanceof ConfigError && message.test(err.message),
    );
  }
});
