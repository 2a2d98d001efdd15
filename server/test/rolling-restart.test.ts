// Graceful shutdown under load (operations issue): on stop, streams end with UNAVAILABLE and
// resume elsewhere, in-flight unary calls finish, and a rolling restart of one of two
// instances fails no unary call whose deadline is longer than the drain time.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { FieldMaskSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { pino } from "pino";
import postgres from "postgres";
import { UserSchema, UserService } from "../../gen/switchboard/v1/user_pb.js";
import { loadConfig } from "../src/config.ts";
import { type RunningServer, startServer } from "../src/server.ts";
import { testAuthEnv } from "./support/auth.ts";
import { clientFor } from "./support/clients.ts";
import { createTestDatabase, type TestDatabase } from "./support/test-database.ts";
import { eventually } from "./support/wait.ts";

const skip = !process.env.DATABASE_URL && "needs DATABASE_URL (two instances share one PostgreSQL)";
const drainMs = 2000;

let database: TestDatabase;
const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" });
const start = () =>
  startServer(
    loadConfig({
      PORT: "0",
      HOST: "127.0.0.1",
      DATABASE_URL: database.url,
      DRAIN_TIMEOUT_MS: String(drainMs),
      HEALTH_CHECK_INTERVAL_MS: "200",
      ...testAuthEnv,
    }),
    { logger },
  );

before(async () => {
  if (!skip) database = await createTestDatabase();
});
after(async () => {
  await database?.drop();
});

test("a unary call in flight when shutdown begins finishes; the server then stops", {
  skip,
  timeout: 30_000,
}, async () => {
  const server = await start();
  const users = clientFor(UserService, server.url, "grpc");
  const { user } = await users.createUser({
    name: "Slow",
    email: `slow-${randomUUID()}@example.com`,
    age: 20,
  });
  const id = user?.id ?? "";
  const sql = postgres(database.url ?? "", { max: 1, onnotice: () => {} });
  try {
    // Hold the row so the update waits in the database while the server shuts down.
    const locked = sql.begin(async (tx) => {
      await tx`select * from users where id = ${id} for update`;
      await new Promise((r) => setTimeout(r, 800));
    });
    await new Promise((r) => setTimeout(r, 100));
    const update = users.updateUser(
      { user: create(UserSchema, { id, age: 21 }), updateMask: create(FieldMaskSchema, { paths: ["age"] }) },
      { timeoutMs: 10_000 },
    );
    await new Promise((r) => setTimeout(r, 100));
    const stopped = server.stop();
    const res = await update;
    assert.equal(res.user?.age, 21, "the in-flight call completed");
    await locked;
    await stopped;
  } finally {
    await sql.end();
    await server.stop();
  }
});

test("rolling restart of one of two instances under load: zero failed unary calls", {
  skip,
  timeout: 60_000,
}, async () => {
  let a: RunningServer = await start();
  const b: RunningServer = await start();
  try {
    // A client as a load balancer would run it: round robin, and a call refused with
    // UNAVAILABLE (the instance is going away or gone) or a connection that could not be made
    // is sent again to the other instance.
    const instances = () => [a.url, b.url];
    let turn = 0;
    const call = async (i: number) => {
      const first = turn; // fixed per call, so each retry goes to the other instance
      for (let attempt = 0; ; attempt++) {
        const urls = instances();
        const url = urls[(first + attempt) % urls.length] ?? b.url;
        try {
          return await clientFor(UserService, url, "grpc").createUser(
            { name: `r${i}`, email: `rolling-${i}-${randomUUID()}@example.com`, age: 30 },
            { timeoutMs: drainMs * 3 },
          );
        } catch (err) {
          // Refused (UNAVAILABLE), or never reached an instance at all (a connect that was
          // reset while the instance closed its listener): safe to send elsewhere.
          const ce = ConnectError.from(err);
          const retryable = ce.code === Code.Unavailable || /\bconnect E[A-Z]+/.test(ce.rawMessage);
          if (!retryable || attempt >= 3) throw err;
        }
      }
    };
    let ok = 0;
    const failures: string[] = [];
    let running = true;
    const workers = Array.from({ length: 6 }, async (_, w) => {
      for (let i = 0; running; i++) {
        turn++;
        try {
          await call(w * 100_000 + i);
          ok++;
        } catch (err) {
          failures.push(ConnectError.from(err).message);
          // A worker stops at its first failure: calls that fail at once would otherwise loop
          // on microtasks alone, starving the timers that end the test.
          return;
        }
      }
    });
    await eventually("calls succeed before the restart", () => ok > 0, 20_000);
    const okBefore = ok;
    await a.stop(); // SIGTERM does exactly this
    a = await start(); // and the orchestrator starts a new one in its place
    await eventually("calls keep succeeding after the restart", () => ok > okBefore + 5, 20_000);
    running = false;
    await Promise.all(workers);
    assert.ok(okBefore > 0 && ok > okBefore, `calls kept succeeding (${okBefore} before, ${ok} in all)`);
    assert.deepEqual(failures, [], "no unary call failed");
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
});
