import assert from "node:assert/strict";
import fs, { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mock, test } from "node:test";
import { pino } from "pino";
import { createLogger } from "./logger.ts";

// The server's destination is pino's asynchronous one (sonic-boom), patched at install
// (scripts/patch-dependencies.ts) to keep the length of the chunk a line is appended to
// instead of measuring it again on every line. What rides on that length: every line arrives,
// whole and in order, and no single write is larger than maxWrite.
test("lines logged while writes are in flight all arrive, in order, in writes no larger than maxWrite", async () => {
  const dir = mkdtempSync(join(tmpdir(), "switchboard-log-"));
  const path = join(dir, "out.log");
  const writes: number[] = [];
  const realWrite = fs.write as (...args: unknown[]) => void;
  // sonic-boom writes through fs.write; record the size of each write it makes.
  const spy = mock.method(fs, "write", (fd: number, data: string | Uint8Array, ...rest: unknown[]) => {
    writes.push(typeof data === "string" ? Buffer.byteLength(data) : data.byteLength);
    realWrite(fd, data, ...rest);
  });
  try {
    const maxWrite = 1024;
    const destination = pino.destination({ dest: path, sync: false, maxWrite, mkdir: true });
    await new Promise<void>((resolve) => destination.once("ready", () => resolve()));
    const logger = createLogger({ logLevel: "info" }, destination);
    const lines = 2000;
    // Bursts of lines in one turn, so most arrive while a write is in flight and are appended
    // to chunks, with turns between for the writes to complete.
    for (let i = 0; i < lines; i++) {
      logger.info({ i, pad: "x".repeat(i % 97) }, "line");
      if (i % 250 === 249) await new Promise((r) => setImmediate(r));
    }
    const closed = new Promise<void>((resolve) => destination.once("close", () => resolve()));
    destination.end(); // writes what is buffered, then closes
    await closed;
    const got = readFileSync(path, "utf8").trimEnd().split("\n");
    assert.equal(got.length, lines);
    got.forEach((line, i) => {
      const parsed = JSON.parse(line) as { i: number; pad: string; msg: string };
      assert.equal(parsed.i, i);
      assert.equal(parsed.pad.length, i % 97);
    });
    assert.ok(writes.length > 1, "the lines went out in several writes");
    assert.ok(
      writes.length < lines / 4,
      `lines that came during a write were batched (${writes.length} writes for ${lines} lines)`,
    );
    for (const size of writes) assert.ok(size <= maxWrite, `a write of ${size} bytes (maxWrite ${maxWrite})`);
  } finally {
    spy.mock.restore();
    rmSync(dir, { recursive: true, force: true });
  }
});
