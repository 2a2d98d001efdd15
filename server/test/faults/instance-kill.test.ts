// Item E of the operations issue: an instance killed with SIGKILL mid-stream. Its clients
// reconnect to the other instance with their cursor (the last sequence they received) and
// miss nothing: the union of what they read is every event, exactly once, in order.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { OrderService } from "../../../gen/switchboard/v1/order_pb.js";
import { bearer, testAdminToken } from "../support/auth.ts";
import { clientFor } from "../support/clients.ts";
import { startTestRedis, type TestRedis } from "../support/redis-server.ts";
import { createTestDatabase, type TestDatabase } from "../support/test-database.ts";
import { newUserId } from "../support/users.ts";
import { eventually } from "../support/wait.ts";
import { sleep } from "./support/load.ts";
import { type ServerProcess, startServerProcess } from "./support/processes.ts";

const skip = !process.env.DATABASE_URL && "needs DATABASE_URL (two server processes share one PostgreSQL)";

let database: TestDatabase;
let redis: TestRedis;
let a: ServerProcess;
let b: ServerProcess;
before(async () => {
  if (skip) return;
  database = await createTestDatabase();
  redis = await startTestRedis();
  const env = { DATABASE_URL: database.url ?? "", REDIS_URL: redis.url, EVENT_POLL_MS: "500" };
  a = await startServerProcess(env);
  b = await startServerProcess(env);
});
after(async () => {
  await Promise.all([a?.kill(), b?.kill()]);
  await redis?.stop();
  await database?.drop();
});

test("kill -9 of the instance a stream is on: the client resumes on the other and misses nothing", {
  skip,
  timeout: 60_000,
}, async () => {
  const userId = await newUserId(b.url, "Killed");
  const total = 60;
  const received: { sequence: bigint; product: string; via: string }[] = [];
  let reconnects = 0;
  let lastError = "";
  const done = new AbortController();
  // The client: follows A; when its stream breaks, resumes on B after the last sequence.
  const client = (async () => {
    for (const [name, server] of [
      ["A", a],
      ["B", b],
    ] as const) {
      const after = received.at(-1)?.sequence ?? 0n;
      try {
        // Pings, as a long-lived client should have: they notice a peer that vanished.
        const transport = createGrpcTransport({
          baseUrl: server.url,
          pingIntervalMs: 500,
          pingTimeoutMs: 500,
          interceptors: [bearer(testAdminToken)],
        });
        for await (const res of createClient(OrderService, transport).streamOrders(
          { userId, afterSequence: after },
          { signal: done.signal },
        )) {
          if (res.event)
            received.push({
              sequence: res.event.sequence,
              product: res.event.order?.productId ?? "",
              via: name,
            });
        }
      } catch (err) {
        // Not by code: connect-node reports the vanished peer's reset stream as CANCELED too.
        if (done.signal.aborted) return;
        const e = ConnectError.from(err);
        lastError = `${Code[e.code]}: ${e.rawMessage}`;
        reconnects++;
      }
    }
  })();

  // Orders are written on B throughout; A is killed after a third of them.
  const orders = clientFor(OrderService, b.url, "grpc");
  let killedAfter = -1;
  for (let i = 0; i < total; i++) {
    await orders.createOrder({ userId, productId: `p${i}`, quantity: 1, idempotencyKey: `k${i}` });
    if (i === 19) {
      await eventually("A delivered the first 20", () => received.length >= 20);
      await a.kill("SIGKILL");
      killedAfter = received.length;
    }
    await sleep(20);
  }
  await eventually("the client has every event", () => received.length >= total, 15_000).catch(
    (err: unknown) => {
      throw new Error(`${received.length} of ${total}, reconnects ${reconnects}, ${lastError}`, {
        cause: err,
      });
    },
  );
  await sleep(500); // a repeat would show now
  done.abort();
  await client;

  console.log(
    JSON.stringify({
      killedAfter,
      reconnects,
      lastError,
      fromA: received.filter((r) => r.via === "A").length,
    }),
  );
  assert.equal(a.exited()?.signal, "SIGKILL");
  assert.equal(reconnects, 1, "the stream on A broke once, the client moved to B");
  assert.deepEqual(
    received.map((r) => r.product),
    Array.from({ length: total }, (_, i) => `p${i}`),
  );
  const sequences = received.map((r) => r.sequence);
  assert.ok(
    sequences.every((s, i) => i === 0 || s > (sequences[i - 1] ?? 0n)),
    "in sequence order",
  );
  assert.ok(
    received.some((r) => r.via === "B"),
    "B served the rest",
  );
});
