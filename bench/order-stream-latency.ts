// Delay from commit to receipt for StreamOrders across two instances sharing PostgreSQL and
// Redis (the orders issue's figure), against the raw Redis pub/sub round trip in the same run.
// Starts both server processes itself, with one admin token and signing key and the rate limits
// off (bench/auth.ts); needs DATABASE_URL and REDIS_URL.
//
//   DATABASE_URL=postgres://… REDIS_URL=redis://… node bench/order-stream-latency.ts [orders=500]
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { Redis } from "ioredis";
import postgres from "postgres";
import { OrderService } from "../gen/switchboard/v1/order_pb.js";
import { UserService } from "../gen/switchboard/v1/user_pb.js";
import { asAdmin, benchAuth, limitsOff } from "./auth.ts";
import { serverNodeArgs } from "./lib/switchboard.ts";

const count = Number(process.argv[2] ?? 500);
const databaseUrl = process.env.DATABASE_URL;
const redisUrl = process.env.REDIS_URL;
if (!databaseUrl || !redisUrl) throw new Error("set DATABASE_URL and REDIS_URL");
const root = new URL("..", import.meta.url).pathname;

// A database of its own, dropped at the end.
const dbName = `switchboard_bench_${Date.now()}`;
const admin = postgres(databaseUrl, { max: 1, onnotice: () => {} });
await admin.unsafe(`create database ${dbName}`);
const benchUrl = new URL(databaseUrl);
benchUrl.pathname = `/${dbName}`;

function startInstance(port: number) {
  return spawn(process.execPath, [...serverNodeArgs(), "server/src/main.ts"], {
    cwd: root,
    env: {
      ...limitsOff,
      ...process.env,
      ...benchAuth,
      PORT: String(port),
      HOST: "127.0.0.1",
      DATABASE_URL: benchUrl.toString(),
      LOG_LEVEL: "warn",
    },
    stdio: ["ignore", "inherit", "inherit"],
  });
}

async function ready(url: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(`${url}/readyz`)).ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not become ready`);
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
const summary = (samples: number[]) => {
  const s = [...samples].sort((a, b) => a - b);
  return { p50: percentile(s, 50), p99: percentile(s, 99) };
};

const base = 19000 + Math.floor(Math.random() * 500);
const a = startInstance(base);
const b = startInstance(base + 1);
try {
  const urlA = `http://127.0.0.1:${base}`;
  const urlB = `http://127.0.0.1:${base + 1}`;
  await Promise.all([ready(urlA), ready(urlB)]);
  const { user } = await createClient(
    UserService,
    createGrpcTransport({ baseUrl: urlA, interceptors: [asAdmin] }),
  ).createUser({
    name: "Bench",
    email: `bench-${randomUUID()}@example.com`,
    age: 30,
  });
  const userId = user?.id ?? "";
  const writer = createClient(
    OrderService,
    createConnectTransport({ baseUrl: urlA, httpVersion: "1.1", interceptors: [asAdmin] }),
  );
  const reader = createClient(OrderService, createGrpcTransport({ baseUrl: urlB, interceptors: [asAdmin] }));

  // Receipt times by order id, from a gRPC subscriber on instance B.
  const received = new Map<string, number>();
  const abort = new AbortController();
  const reading = (async () => {
    for await (const res of reader.streamOrders({ userId }, { signal: abort.signal })) {
      if (res.event?.order) received.set(res.event.order.id, performance.now());
      if (received.size >= count) return;
    }
  })().catch(() => {});
  await new Promise((r) => setTimeout(r, 300));

  // Each order's commit is acknowledged to the writer just after it commits (and publishes);
  // the acknowledgement is the closest outside view of "commit". A receipt before the
  // acknowledgement counts as 0; request sent → receipt is reported too, as an upper bound.
  const delays: number[] = [];
  const fromSend: number[] = [];
  for (let i = 0; i < count; i++) {
    const sent = performance.now();
    const { order } = await writer.createOrder({
      userId,
      productId: "bench",
      quantity: 1,
      idempotencyKey: `b${i}`,
    });
    const acked = performance.now();
    const id = order?.id ?? "";
    while (!received.has(id)) await new Promise((r) => setImmediate(r));
    delays.push(Math.max(0, (received.get(id) ?? acked) - acked));
    fromSend.push((received.get(id) ?? acked) - sent);
    await new Promise((r) => setTimeout(r, 2)); // ~ a few hundred orders/s
  }
  abort.abort();
  await reading;

  // The floor: one Redis publish to a subscriber on another connection.
  const pub = new Redis(redisUrl);
  const sub = new Redis(redisUrl);
  await sub.subscribe("switchboard-bench");
  const redisDelays: number[] = [];
  let sentAt = 0;
  let resolveMsg: () => void = () => {};
  sub.on("message", () => {
    redisDelays.push(performance.now() - sentAt);
    resolveMsg();
  });
  for (let i = 0; i < count; i++) {
    const got = new Promise<void>((r) => {
      resolveMsg = r;
    });
    sentAt = performance.now();
    await pub.publish("switchboard-bench", "x");
    await got;
  }
  pub.disconnect();
  sub.disconnect();

  const orders = summary(delays);
  const whole = summary(fromSend);
  const redis = summary(redisDelays);
  console.log(
    `StreamOrders across instances, ${count} orders: commit ack → receipt p50 ${orders.p50.toFixed(2)} ms, p99 ${orders.p99.toFixed(2)} ms`,
  );
  console.log(
    `  (upper bound, request sent → receipt, includes the write itself: p50 ${whole.p50.toFixed(2)} ms, p99 ${whole.p99.toFixed(2)} ms)`,
  );
  console.log(`raw Redis pub/sub round trip: p50 ${redis.p50.toFixed(2)} ms, p99 ${redis.p99.toFixed(2)} ms`);
} finally {
  a.kill("SIGTERM");
  b.kill("SIGTERM");
  await Promise.all([new Promise((r) => a.once("exit", r)), new Promise((r) => b.once("exit", r))]);
  await admin.unsafe(`drop database if exists ${dbName} with (force)`);
  await admin.end();
}
