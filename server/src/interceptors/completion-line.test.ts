import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { test } from "node:test";
import { pino } from "pino";
import { createLogger } from "../logger.ts";
import { completionLine } from "./completion-line.ts";

/** A destination that keeps the lines written to it. */
function capture(): { lines: string[]; stream: Writable } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { lines, stream };
}

const withoutTime = (line: string) => line.replace(/"time":\d+/, '"time":0');

test("the completion line is byte for byte the line pino writes for the same call", () => {
  const { lines, stream } = capture();
  const root = createLogger({ logLevel: "info" }, stream);
  const child = root
    .child({}, { redact: [] })
    .child({ method: "switchboard.v1.UserService/GetUser", protocol: "grpc" });
  const write = completionLine(child);
  const cases: [string, string, string, number][] = [
    ["8f4c2a8e-0a49-4b7c-9a3b-8c1e2f3a4b5c", "8f4c2a8e0a494b7c9a3b8c1e2f3a4b5c", "ok", 0.123],
    ["req-obs-1", "0af7651916cd43dd8448eb211c80319c", "not_found", 12],
    ["a:b/c+d=e.f", "0af7651916cd43dd8448eb211c80319c", "invalid_argument", 0],
  ];
  for (const [requestId, traceId, code, durationMs] of cases) {
    write(requestId, traceId, code, durationMs);
    child.info({ requestId, traceId, code, durationMs }, "call completed");
    const [ours, theirs] = lines.splice(0, 2);
    assert.equal(withoutTime(ours ?? ""), withoutTime(theirs ?? ""));
  }
});

test("an id that would need escaping goes through pino, and a level above info writes nothing", () => {
  const { lines, stream } = capture();
  const child = createLogger({ logLevel: "info" }, stream).child({ method: "m", protocol: "connect" });
  completionLine(child)('we"ird', "t", "ok", 1);
  assert.equal(JSON.parse(lines[0] ?? "").requestId, 'we"ird');
  child.level = "warn";
  completionLine(child)("r", "t", "ok", 1);
  assert.equal(lines.length, 1);
});

test("a logger with a mixin gets pino's own path (its fields are kept)", () => {
  const { lines, stream } = capture();
  const logger = pino({ mixin: () => ({ extra: 1 }) }, stream);
  completionLine(logger)("r", "t", "ok", 1);
  assert.equal(JSON.parse(lines[0] ?? "").extra, 1);
});
