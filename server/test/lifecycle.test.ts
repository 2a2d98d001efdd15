// Start, stop and restart: embedded data survives a restart, shutdown ends open streams
// cleanly, and instances starting together migrate once.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { pino } from "pino";
import postgres from "postgres";
import { type User, UserService } from "../../gen/switchboard/v1/user_pb.js";
import { loadConfig } from "../src/config.ts";
import { openDatabase } from "../src/db/database.ts";
import { startServer } from "../src/server.ts";
import { testAuthEnv } from "./support/auth.ts";
import { clientFor } from "./support/clients.ts";
import { createTestDatabase } from "./support/test-database.ts";
import { startTestServer } from "./support/test-server.ts";

const silent = pino({ level: "silent" });

test("the embedded database keeps its data across a restart", { timeout: 60_000 }, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "switchboard-data-"));
  const config = loadConfig({ PORT: "0", HOST: "127.0.0.1", DATA_DIR: dataDir, ...testAuthEnv });
  try {
    const first = await startServer(config, { logger: silent });
    let user: User | undefined;
    try {
      ({ user } = await clientFor(UserService, first.url, "connect-json").createUser({
        name: "Kept",
        email: "kept@example.com",
        age: 50,
      }));
    } finally {
      await first.stop();
    }
    const second = await startServer(config, { logger: silent });
    try {
      const got = await clientFor(UserService, second.url, "connect-json").getUser({ id: user?.id ?? "" });
      assert.equal(got.user?.email, "kept@example.com");
    } finally {
      await second.stop();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test("shutdown ends an open stream with UNAVAILABLE and the server stops within the drain time", {
  timeout: 30_000,
}, async () => {
  const server = await startTestServer({ DRAIN_TIMEOUT_MS: "3000" });
  const client = clientFor(UserService, server.url, "grpc");
  // A bidi stream that stays open: the client sends one request and then waits.
  let release: () => void = () => {};
  const hold = new Promise<void>((r) => {
    release = r;
  });
  const requests = (async function* () {
    yield {
      requestId: "1",
      operation: { case: "get" as const, value: { id: "00000000-0000-7000-8000-000000000000" } },
    };
    await hold;
  })();
  const answers: string[] = [];
  // Settles with the error the stream ended with (caught at once: it ends during close()).
  const streamEnd = (async () => {
    for await (const res of client.userStream(requests)) answers.push(res.requestId);
  })().then(
    () => undefined,
    (err: unknown) => ConnectError.from(err),
  );
  while (answers.length === 0) await new Promise((r) => setTimeout(r, 10));
  const started = Date.now();
  await server.close();
  assert.ok(Date.now() - started < 3000 + 1000, "stopped within the drain time");
  assert.equal((await streamEnd)?.code, Code.Unavailable);
  release();
  assert.deepEqual(answers, ["1"]);
});

test("instances that start together apply each migration once", {
  skip: !process.env.DATABASE_URL && "needs DATABASE_URL",
  timeout: 60_000,
}, async () => {
  const testDb = await createTestDatabase();
  try {
    const open = () => openDatabase({ databaseUrl: testDb.url, dataDir: "", poolSize: 2, logger: silent });
    const databases = await Promise.all([open(), open(), open(), open()]);
    await Promise.all(databases.map((d) => d.close()));
    const sql = postgres(testDb.url ?? "", { max: 1, onnotice: () => {} });
    try {
      const [row] = await sql`select count(*)::int as n from drizzle.__drizzle_migrations`;
      const journal = JSON.parse(
        readFileSync(new URL("../../drizzle/meta/_journal.json", import.meta.url), "utf8"),
      );
      assert.equal(row?.n, journal.entries.length);
    } finally {
      await sql.end();
    }
  } finally {
    await testDb.drop();
  }
});

test("an idle HTTP/1.1 keep-alive connection does not hold up shutdown", { timeout: 30_000 }, async () => {
  const server = await startTestServer({ DRAIN_TIMEOUT_MS: "8000" });
  const res = await fetch(`${server.url}/healthz`); // the client keeps this connection open
  assert.equal(res.status, 200);
  await res.text();
  const started = Date.now();
  await server.close();
  assert.ok(Date.now() - started < 3000, `stopped in ${Date.now() - started} ms, not after the drain time`);
});
