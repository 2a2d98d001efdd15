// Two instances sharing PostgreSQL and Redis, as behind a load balancer: a change committed on
// one reaches live streams on the other, and a Redis outage loses nothing.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { Redis } from "ioredis";
import { type OrderEvent, OrderService, OrderStatus } from "../../gen/switchboard/v1/order_pb.js";
import type { RunningServer } from "../src/server.ts";
import { clientFor } from "./support/clients.ts";
import type { TestRedis } from "./support/redis-server.ts";
import { startTwoInstances, type TwoInstances } from "./support/two-instances.ts";
import { newUserId } from "./support/users.ts";

const skip = !process.env.DATABASE_URL && "needs DATABASE_URL (instances share one PostgreSQL)";

let pair: TwoInstances;
let redis: TestRedis;
let a: RunningServer;
let b: RunningServer;
before(async () => {
  if (skip) return;
  pair = await startTwoInstances({
    EVENT_POLL_MS: "300",
    // While Redis is up the table is checked only this rarely, so a prompt delivery came over Redis.
    EVENT_SAFETY_POLL_MS: "60000",
  });
  ({ a, b, redis } = pair);
});
after(async () => {
  await pair?.stop();
});

const newUser = () => newUserId(a.url, "Multi");

/** Reads StreamOrders until `count` events arrived, then cancels. */
async function readOrders(url: string, userId: string, after: bigint, count: number, seen: OrderEvent[]) {
  const abort = new AbortController();
  try {
    for await (const res of clientFor(OrderService, url, "grpc").streamOrders(
      { userId, afterSequence: after },
      { signal: abort.signal },
    )) {
      if (res.event) seen.push(res.event);
      if (seen.length >= count) abort.abort();
    }
  } catch (err) {
    if (ConnectError.from(err).code !== Code.Canceled) throw err;
  }
}

test("an order created over Connect JSON on A reaches a gRPC StreamOrders subscriber on B", {
  skip,
  timeout: 30_000,
}, async () => {
  const userId = await newUser();
  const seen: OrderEvent[] = [];
  const reading = readOrders(b.url, userId, 0n, 2, seen);
  // Wait until instance B holds the orders channel in Redis, so the event can only come that way.
  const probe = new Redis(redis.url);
  try {
    for (let i = 0; ; i++) {
      const channels = (await probe.pubsub("CHANNELS", "*:events:orders")) as string[];
      if (channels.length > 0) break;
      if (i > 300) assert.fail("B never subscribed to the orders channel");
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    probe.disconnect();
  }
  const started = Date.now();
  const created = await clientFor(OrderService, a.url, "connect-json").createOrder({
    userId,
    productId: "cross",
    quantity: 3,
    idempotencyKey: "x1",
  });
  while (seen.length < 1) await new Promise((r) => setTimeout(r, 2));
  const delayMs = Date.now() - started;
  await clientFor(OrderService, a.url, "grpc-web").updateOrderStatus({
    id: created.order?.id ?? "",
    status: OrderStatus.PAID,
  });
  await reading;
  assert.deepEqual(
    seen.map((e) => [e.order?.id, e.order?.status]),
    [
      [created.order?.id, OrderStatus.PENDING],
      [created.order?.id, OrderStatus.PAID],
    ],
  );
  // Far below EVENT_SAFETY_POLL_MS: it came over Redis, not from a table check.
  assert.ok(delayMs < 20_000, `delivered in ${delayMs} ms`);
});

test("while Redis is down writes succeed, streams keep going from the table, and nothing is lost", {
  skip,
  timeout: 60_000,
}, async () => {
  const userId = await newUser();
  const orders = clientFor(OrderService, a.url, "grpc");
  const total = 30;
  const live: OrderEvent[] = [];
  const liveReading = readOrders(b.url, userId, 0n, total, live);
  for (let i = 0; i < 10; i++)
    await orders.createOrder({ userId, productId: `p${i}`, quantity: 1, idempotencyKey: `r${i}` });
  while (live.length < 10) await new Promise((r) => setTimeout(r, 10));

  await redis.stop();
  for (let i = 10; i < 20; i++)
    await orders.createOrder({ userId, productId: `p${i}`, quantity: 1, idempotencyKey: `r${i}` });
  // A client that had dropped out resumes with its cursor during the outage.
  const resumed: OrderEvent[] = [];
  await readOrders(a.url, userId, live[4]?.sequence ?? 0n, 15, resumed);
  await redis.start();
  for (let i = 20; i < 30; i++)
    await orders.createOrder({ userId, productId: `p${i}`, quantity: 1, idempotencyKey: `r${i}` });
  await liveReading;

  const products = (events: OrderEvent[]) => events.map((e) => e.order?.productId);
  assert.deepEqual(
    products(live),
    Array.from({ length: total }, (_, i) => `p${i}`),
  );
  assert.deepEqual(
    products(resumed),
    Array.from({ length: 15 }, (_, i) => `p${i + 5}`),
  );
});
