// GetUser's cache (design §2) against the real server: the instance that writes never reads its
// old value, and another instance sharing the database and Redis converges within the bus
// delay, which is measured here. Each step first shows the old value is really cached, so a
// passing freshness check means invalidation happened, not that the cache was bypassed.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { FieldMaskSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { eq, sql } from "drizzle-orm";
import { Redis } from "ioredis";
import { pino } from "pino";
import {
  type User,
  UserSchema,
  UserService,
  UserStreamRequestSchema,
} from "../../gen/switchboard/v1/user_pb.js";
import { loadConfig } from "../src/config.ts";
import { users as usersTable } from "../src/db/schema.ts";
import { type RunningServer, startServer } from "../src/server.ts";
import { userChangesTopic } from "../src/user-cache.ts";
import { testAuthEnv } from "./support/auth.ts";
import { clientFor, collect, streamOf } from "./support/clients.ts";
import { startTestServer, type TestServer } from "./support/test-server.ts";

const client = (server: RunningServer) => clientFor(UserService, server.url, "connect-binary-h2c");

async function newUser(server: RunningServer, name = "Cache"): Promise<User> {
  const { user } = await client(server).createUser({ name, email: `${randomUUID()}@example.com`, age: 30 });
  assert.ok(user);
  return user;
}

async function rename(server: RunningServer, id: string, name: string): Promise<User> {
  const { user } = await client(server).updateUser({
    user: create(UserSchema, { id, name }),
    updateMask: create(FieldMaskSchema, { paths: ["name"] }),
  });
  assert.ok(user);
  return user;
}

async function getVersion(server: RunningServer, id: string): Promise<bigint | "NOT_FOUND"> {
  try {
    const { user } = await client(server).getUser({ id });
    return user?.version ?? 0n;
  } catch (err) {
    if (ConnectError.from(err).code === Code.NotFound) return "NOT_FOUND";
    throw err;
  }
}

/** Calls `read` until it returns `want`, for at most `limitMs`; answers how long that took. */
async function converge<T>(read: () => Promise<T>, want: T, limitMs: number): Promise<number> {
  const started = performance.now();
  for (;;) {
    const got = await read();
    const elapsed = performance.now() - started;
    if (got === want) return elapsed;
    if (elapsed > limitMs) assert.fail(`still ${String(got)} after ${limitMs} ms, expected ${String(want)}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** Changes a row behind the cache's back, as only a bug or a manual fix would. */
async function bumpInDatabase(server: RunningServer, id: string): Promise<void> {
  await server.ctx.database.db
    .update(usersTable)
    .set({ name: "behind the cache", version: sql`${usersTable.version} + 1` })
    .where(eq(usersTable.id, id));
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

describe("one instance, in-process tier only", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ REDIS_URL: "" });
  });
  after(async () => {
    await server?.close();
  });

  test("GetUser is served from memory, and never stale after this instance's update or delete", async () => {
    const cache = server.ctx.userCache;
    const user = await newUser(server);
    assert.equal(await getVersion(server, user.id), 1n);
    const loads = cache.stats().loads;
    assert.equal(await getVersion(server, user.id), 1n);
    assert.equal(cache.stats().loads, loads, "the second read did not touch the database");

    // The control: a change that bypasses the service is not seen, so the cache really answers.
    await bumpInDatabase(server, user.id);
    assert.equal(await getVersion(server, user.id), 1n, "cached version 1 is served");

    const updated = await rename(server, user.id, "Renamed"); // version 3: 2 was the bypass
    assert.equal(updated.version, 3n);
    assert.equal(await getVersion(server, user.id), 3n, "the read right after the update is fresh");
    assert.equal((await client(server).getUser({ id: user.id })).user?.name, "Renamed");

    await client(server).deleteUser({ id: user.id });
    assert.equal(await getVersion(server, user.id), "NOT_FOUND");
  });

  test("UserStream's get reads through the cache and its update and delete invalidate it", async () => {
    const user = await newUser(server);
    const get = (requestId: string) =>
      create(UserStreamRequestSchema, { requestId, operation: { case: "get", value: { id: user.id } } });
    const replies = await collect(
      client(server).userStream(
        streamOf([
          get("get-1"),
          get("get-2"),
          create(UserStreamRequestSchema, {
            requestId: "update",
            operation: {
              case: "update",
              value: {
                user: create(UserSchema, { id: user.id, age: 31 }),
                updateMask: create(FieldMaskSchema, { paths: ["age"] }),
              },
            },
          }),
          get("get-3"),
          create(UserStreamRequestSchema, {
            requestId: "delete",
            operation: { case: "delete", value: { id: user.id } },
          }),
          get("get-4"),
        ]),
      ),
    );
    const versions = replies.map((r) =>
      r.result.case === "user"
        ? `${r.requestId}:v${r.result.value.version}`
        : `${r.requestId}:${r.result.case === "error" ? Code[r.result.value.code] : r.result.case}`,
    );
    assert.deepEqual(versions, [
      "get-1:v1",
      "get-2:v1",
      "update:v2",
      "get-3:v2",
      "delete:deleted",
      "get-4:NotFound",
    ]);
    assert.equal(server.ctx.userCache.peek(user.id), undefined);
  });
});

const needs = [
  !process.env.DATABASE_URL && "DATABASE_URL (both instances share one PostgreSQL)",
  !process.env.REDIS_URL && "REDIS_URL (the shared cache tier and the bus)",
].filter(Boolean);
const skip = needs.length > 0 ? `needs ${needs.join(" and ")}` : false;

describe("two instances sharing PostgreSQL and Redis", { skip }, () => {
  let a: TestServer;
  let b: RunningServer;
  let redis: Redis;
  before(async () => {
    a = await startTestServer();
    // B is another instance of A's deployment: same database, same Redis, same namespace.
    const config = loadConfig({
      PORT: "0",
      HOST: "127.0.0.1",
      DRAIN_TIMEOUT_MS: "2000",
      DATABASE_URL: a.ctx.config.databaseUrl,
      REDIS_URL: a.ctx.config.redisUrl,
      REDIS_NAMESPACE: a.ctx.config.redisNamespace,
      ...testAuthEnv, // A's admin token and signing key
    });
    b = await startServer(config, { logger: pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" }) });
    // Both instances listen for change signals before the first write.
    redis = new Redis(config.redisUrl ?? "");
    const channel = `${config.redisNamespace}:events:${userChangesTopic}`;
    await converge(
      async () => (((await redis.pubsub("NUMSUB", channel)) as [string, number])[1] ?? 0) >= 2,
      true,
      5000,
    );
  });
  after(async () => {
    redis?.disconnect();
    await b?.stop(); // before A drops the database they share
    await a?.close();
  });

  test("an update on A: A is fresh at once, B converges within the bus delay; a delete on B reaches A", async (t) => {
    const user = await newUser(a);
    assert.equal(await getVersion(a, user.id), 1n);
    assert.equal(await getVersion(b, user.id), 1n);
    assert.equal(a.ctx.userCache.peek(user.id)?.version, 1, "A holds version 1");
    assert.equal(b.ctx.userCache.peek(user.id)?.version, 1, "B holds version 1");
    const bHits = b.ctx.userCache.stats().localHits;
    assert.equal(await getVersion(b, user.id), 1n);
    assert.equal(b.ctx.userCache.stats().localHits, bHits + 1, "B answers from memory");

    const updated = await rename(a, user.id, "Updated on A");
    assert.equal(updated.version, 2n);
    assert.equal(await getVersion(a, user.id), 2n, "A never reads the old value after its own write");
    // Without invalidation B would answer version 1 from memory for the whole TTL (60 s).
    const delay = await converge(() => getVersion(b, user.id), 2n, 5000);
    t.diagnostic(`B saw the update ${delay.toFixed(1)} ms after UpdateUser returned on A`);
    assert.ok(b.ctx.userCache.stats().signals >= 1, "B heard the change signal");

    await client(b).deleteUser({ id: user.id });
    assert.equal(await getVersion(b, user.id), "NOT_FOUND", "B never reads the deleted user");
    const deleteDelay = await converge(() => getVersion(a, user.id), "NOT_FOUND", 5000);
    t.diagnostic(`A saw the delete ${deleteDelay.toFixed(1)} ms after DeleteUser returned on B`);
  });

  test("after an update, B's next read is served by Redis, not the database", async () => {
    const user = await newUser(a);
    await getVersion(b, user.id);
    await rename(a, user.id, "Shared");
    await converge(async () => b.ctx.userCache.peek(user.id), undefined, 5000);
    const before = b.ctx.userCache.stats();
    assert.equal(await getVersion(b, user.id), 2n);
    const afterRead = b.ctx.userCache.stats();
    assert.equal(afterRead.sharedHits, before.sharedHits + 1);
    assert.equal(afterRead.loads, before.loads);
  });

  test("convergence delay over 50 updates, with A always fresh", async (t) => {
    const user = await newUser(a);
    await getVersion(b, user.id);
    // Times each signal from A's publish to B's listener (the cache's listener runs first).
    const published = new Map<number, number>();
    const heard = new Map<number, number>();
    const publish = a.ctx.bus.publish;
    a.ctx.bus.publish = (events) => {
      for (const e of events) if (e.key === user.id) published.set(e.sequence, performance.now());
      return publish.call(a.ctx.bus, events);
    };
    const unsubscribe = b.ctx.bus.subscribe(userChangesTopic, (e) => {
      if (e.key === user.id) heard.set(e.sequence, performance.now());
    });
    const busDelays: number[] = [];
    const visibleDelays: number[] = [];
    try {
      for (let i = 0; i < 50; i++) {
        await getVersion(b, user.id); // B holds the current version before each write
        const { version } = await rename(a, user.id, `round ${i}`);
        assert.equal(await getVersion(a, user.id), version, `round ${i}: A is fresh`);
        visibleDelays.push(await converge(() => getVersion(b, user.id), version, 5000));
        const v = Number(version);
        await converge(async () => heard.has(v), true, 5000);
        busDelays.push((heard.get(v) ?? Number.NaN) - (published.get(v) ?? Number.NaN));
      }
    } finally {
      a.ctx.bus.publish = publish;
      unsubscribe();
    }
    const summary = (label: string, delays: number[]) => {
      const sorted = [...delays].sort((x, y) => x - y);
      const [p50, p90, max] = [50, 90, 100].map((p) => percentile(sorted, p).toFixed(2));
      return `${label}: p50 ${p50} ms, p90 ${p90} ms, max ${max} ms`;
    };
    t.diagnostic(summary("bus delay, A's publish to B's cache dropping its entry", busDelays));
    t.diagnostic(summary("UpdateUser response on A to B's first fresh GetUser", visibleDelays));
  });

  test("control: a change that skips the service stays invisible to both, so the above is invalidation", async () => {
    const user = await newUser(a);
    await getVersion(a, user.id);
    await getVersion(b, user.id);
    await bumpInDatabase(a, user.id);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(await getVersion(a, user.id), 1n);
    assert.equal(await getVersion(b, user.id), 1n);
  });
});
