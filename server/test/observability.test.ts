import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { UserService } from "../../gen/switchboard/v1/user_pb.js";
import { createLogger } from "../src/logger.ts";
import { clientFor } from "./support/clients.ts";
import { startTestServer, type TestServer } from "./support/test-server.ts";
import { newUserId } from "./support/users.ts";

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
    const id = await newUserId(server.url);
    const users = clientFor(UserService, server.url, "connect-json");
    const headers = { authorization: "Bearer secret-token-123", "x-request-id": "req-obs-1", traceparent };
    await users.getUser({ id }, { headers });
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
    assert.ok(!captured.raw.some((l) => l.includes("secret-token-123")), "the token is in no log line");
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
