import assert from "node:assert/strict";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { NotificationService } from "../../gen/switchboard/v1/notification_pb.js";
import { UserService } from "../../gen/switchboard/v1/user_pb.js";
import { createLogger } from "../src/logger.ts";
import { createSignedInUser, testAdminToken } from "./support/auth.ts";
import { clientFor } from "./support/clients.ts";
import { startTestServer, type TestServer } from "./support/test-server.ts";
import { newUserId } from "./support/users.ts";
import { eventually } from "./support/wait.ts";

type LogLine = Record<string, unknown>;

/** A logger like production's (same redaction), writing JSON lines to an array. */
function capturedLogger(level: "debug" | "info") {
  const lines: LogLine[] = [];
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split("\n")) {
        if (!line) continue;
        raw.push(line);
        lines.push(JSON.parse(line) as LogLine);
      }
      done();
    },
  });
  return { logger: createLogger({ logLevel: level }, stream), lines, raw };
}

const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
const traceparent = `00-${traceId}-00f067aa0ba902b7-01`;

describe("logs", () => {
  let server: TestServer;
  const captured = capturedLogger("debug");
  before(async () => {
    server = await startTestServer({}, { logger: captured.logger });
  });
  after(() => server?.close());

  test("every line of a call carries its request id and trace id; credentials never appear", async () => {
    // A session token from SignIn (its request carried the password), used on a call of its own.
    const { user, token, password } = await createSignedInUser(server.url);
    const users = clientFor(UserService, server.url, "connect-json");
    const headers = { authorization: `Bearer ${token}`, "x-request-id": "req-obs-1", traceparent };
    await users.getUser({ id: user.id }, { headers });
    const callLines = captured.lines.filter((l) => l.requestId === "req-obs-1");
    assert.ok(callLines.length >= 2, "a debug line with the headers and the completion line");
    for (const line of callLines) assert.equal(line.traceId, traceId, "the incoming traceparent's trace id");
    const started = callLines.find((l) => l.msg === "call started");
    assert.equal((started?.headers as Record<string, string> | undefined)?.authorization, "[redacted]");
    const done = callLines.find((l) => l.msg === "call completed");
    assert.equal(done?.level, 30, "info");
    assert.equal(done?.method, "switchboard.v1.UserService/GetUser");
    assert.equal(done?.protocol, "connect");
    assert.equal(done?.code, "ok");
    assert.equal(typeof done?.durationMs, "number");
    for (const [what, secret] of [
      ["the session token", token],
      ["its signature", token.split(".")[2] ?? token],
      ["the password", password],
      ["the admin token", testAdminToken],
    ] as const) {
      assert.ok(!captured.raw.some((l) => l.includes(secret)), `${what} is in no log line`);
    }
  });

  test("a call without ids gets fresh ones, echoed back; failures log their code", async () => {
    const users = clientFor(UserService, server.url, "grpc");
    let echoed: string | null = null;
    await assert.rejects(users.getUser({ id: "not-a-uuid" }), (err) => {
      const ce = ConnectError.from(err);
      echoed = ce.metadata.get("x-request-id");
      return ce.code === Code.InvalidArgument;
    });
    const line = captured.lines.find((l) => l.msg === "call completed" && l.code === "invalid_argument");
    assert.ok(line, "the failed call is logged");
    assert.equal(line.protocol, "grpc");
    assert.match(String(line.requestId), /^[\w-]{36}$/);
    assert.match(String(line.traceId), /^[\da-f]{32}$/);
    assert.equal(echoed, line.requestId, "the request id goes back to the client");
    // Every line logged for a call has both ids (lines of subsystems carry neither).
    for (const l of captured.lines.filter((l) => typeof l.method === "string")) {
      assert.ok(l.requestId && l.traceId, `ids on ${JSON.stringify(l)}`);
    }
  });
});

/** The value of one sample of a scrape, by metric name and labels (all given labels must match). */
function sample(scrape: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of scrape.split("\n")) {
    const m = /^(\w+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

describe("metrics", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server?.close());
  const scrape = async () => {
    const res = await fetch(`${server.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    return res.text();
  };

  test("calls are counted and timed by service, method, protocol and code", async () => {
    const id = await newUserId(server.url); // CreateUser over grpc
    await clientFor(UserService, server.url, "connect-json").getUser({ id });
    await clientFor(UserService, server.url, "grpc-web").getUser({ id });
    await assert.rejects(clientFor(UserService, server.url, "grpc").getUser({ id: crypto.randomUUID() }));
    await assert.rejects(clientFor(UserService, server.url, "connect-json").getUser({ id: "nope" }));
    const text = await scrape();
    const rpc = (method: string, protocol: string, code: string) => ({
      service: "switchboard.v1.UserService",
      method,
      protocol,
      code,
    });
    assert.equal(sample(text, "rpc_requests_total", rpc("CreateUser", "grpc", "ok")), 1);
    assert.equal(sample(text, "rpc_requests_total", rpc("GetUser", "connect", "ok")), 1);
    assert.equal(sample(text, "rpc_requests_total", rpc("GetUser", "grpc_web", "ok")), 1);
    assert.equal(sample(text, "rpc_requests_total", rpc("GetUser", "grpc", "not_found")), 1);
    assert.equal(sample(text, "rpc_requests_total", rpc("GetUser", "connect", "invalid_argument")), 1);
    assert.equal(sample(text, "rpc_duration_seconds_count", rpc("GetUser", "grpc", "not_found")), 1);
    assert.equal(
      sample(text, "rpc_duration_seconds_bucket", { ...rpc("GetUser", "grpc", "not_found"), le: "+Inf" }),
      1,
    );
    assert.ok((sample(text, "process_cpu_user_seconds_total") ?? -1) >= 0, "default process metrics");
    assert.equal(sample(text, "db_pool_max_connections"), server.ctx.database.poolSize);
    assert.ok(sample(text, "db_pool_connections_in_use") !== undefined);
    assert.equal(sample(text, "db_pool_waiting"), 0);
  });

  test("an open stream is a gauge; a live event's bus lag is observed; the stream's code counts at its end", async () => {
    const userId = await newUserId(server.url);
    const notifications = clientFor(NotificationService, server.url, "connect-binary-h2c");
    const abort = new AbortController();
    const subscribed = server.ctx.bus.subscriptionCount();
    const received: string[] = [];
    const stream = (async () => {
      for await (const r of notifications.subscribeNotifications({ userId }, { signal: abort.signal })) {
        received.push(r.notification?.title ?? "");
      }
    })().catch(() => {});
    await eventually("the stream follows the bus", () => server.ctx.bus.subscriptionCount() > subscribed);
    await new Promise((r) => setTimeout(r, 200)); // past its replay of the (empty) table
    let text = await scrape();
    assert.equal(sample(text, "rpc_open_streams"), 1);
    assert.ok((sample(text, "rpc_open_calls") ?? 0) >= 1);
    const lagBefore = sample(text, "event_bus_lag_seconds_count") ?? 0;
    await notifications.sendNotification({ userId, title: "hello", body: "" });
    await eventually("the notification arrives", () => received.length === 1);
    text = await scrape();
    assert.equal(sample(text, "event_bus_lag_seconds_count"), lagBefore + 1);
    assert.ok((sample(text, "event_bus_lag_seconds_sum") ?? 99) < 5);
    abort.abort();
    await stream;
    await eventually("the stream has ended", () => server.ctx.openCalls.streams() === 0);
    text = await scrape();
    assert.equal(sample(text, "rpc_open_streams"), 0);
    const ended = {
      service: "switchboard.v1.NotificationService",
      method: "SubscribeNotifications",
      protocol: "connect",
      code: "canceled",
    };
    assert.equal(sample(text, "rpc_requests_total", ended), 1);
  });
});

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: { key: string; value: { stringValue?: string; intValue?: string | number } }[];
}

/** A local OTLP/HTTP receiver: keeps every span POSTed (JSON encoding) to /v1/traces. */
async function startOtlpReceiver() {
  const spans: OtlpSpan[] = [];
  const contentTypes: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.method === "POST" && req.url === "/v1/traces") {
        contentTypes.push(req.headers["content-type"] ?? "");
        const body = JSON.parse(Buffer.concat(chunks).toString()) as {
          resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[];
        };
        for (const rs of body.resourceSpans) for (const ss of rs.scopeSpans) spans.push(...ss.spans);
      }
      res.setHeader("content-type", "application/json");
      res.end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans,
    contentTypes,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const attr = (span: OtlpSpan, key: string) => {
  const v = span.attributes.find((a) => a.key === key)?.value;
  return v?.stringValue ?? v?.intValue;
};

describe("traces", () => {
  test("a call's server span continues the incoming traceparent and has database spans under it", async () => {
    const receiver = await startOtlpReceiver();
    const server = await startTestServer({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url });
    let stopped = false;
    try {
      const id = await newUserId(server.url);
      await clientFor(UserService, server.url, "grpc").getUser({ id }, { headers: { traceparent } });
      await server.close(); // flushes the batch of spans
      stopped = true;
      assert.ok(receiver.contentTypes.every((t) => t.startsWith("application/json")));
      const call = receiver.spans.find(
        (s) => s.traceId === traceId && s.name === "switchboard.v1.UserService/GetUser",
      );
      assert.ok(
        call,
        `the server span, in the caller's trace: ${receiver.spans.map((s) => s.name).join(", ")}`,
      );
      assert.equal(call.parentSpanId, "00f067aa0ba902b7", "child of the caller's span");
      assert.equal(call.kind, 2, "SPAN_KIND_SERVER");
      assert.equal(attr(call, "rpc.system"), "grpc");
      assert.equal(attr(call, "rpc.service"), "switchboard.v1.UserService");
      assert.equal(attr(call, "rpc.method"), "GetUser");
      const db = receiver.spans.filter((s) => s.parentSpanId === call.spanId);
      assert.ok(db.length >= 1, "a database span under the call");
      for (const s of db) {
        assert.equal(s.traceId, traceId);
        assert.equal(s.kind, 3, "SPAN_KIND_CLIENT");
        assert.equal(attr(s, "db.system"), "postgresql");
      }
      assert.ok(
        db.some((s) => attr(s, "db.operation.name") === "SELECT"),
        "the GetUser query",
      );
      // CreateUser, which sent no traceparent, is a trace of its own, with its INSERT under it.
      const create = receiver.spans.find((s) => s.name === "switchboard.v1.UserService/CreateUser");
      assert.ok(create && create.traceId !== traceId && !create.parentSpanId);
      assert.ok(
        receiver.spans.some(
          (s) => s.parentSpanId === create.spanId && attr(s, "db.operation.name") === "INSERT",
        ),
      );
    } finally {
      if (!stopped) await server.close();
      await receiver.close();
    }
  });
});
