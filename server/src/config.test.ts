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
  ];
  for (const [env, message] of cases) {
    assert.throws(
      () => loadConfig(env),
      (err: unknown) => err instanceof ConfigError && message.test(err.message),
    );
  }
});
