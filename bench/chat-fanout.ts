// Chat fan-out at scale (the chat issue's figure): delivery delay from send to receipt for 1,000
// concurrent Subscribe streams on one room while messages are sent at a steady rate, in two
// setups, against the raw Redis pub/sub round trip measured in the same run:
//
//   1. two instances sharing PostgreSQL and Redis, 500 subscribers on each, messages sent to
//      both instances in turn;
//   2. one instance without REDIS_URL (the in-process bus), all 1,000 subscribers on it.
//
// Both setups use PostgreSQL (a fresh database this script creates and drops), so the bus is
// the only difference. Server processes are started here (node server/src/main.ts). Needs
// DATABASE_URL and REDIS_URL.
//
//   DATABASE_URL=postgres://… REDIS_URL=redis://… node bench/chat-fanout.ts [subscribers=1000] [rate=200] [seconds=3]
//
// Subscribers are plain gRPC over node:http2 (50 streams per connection, under the server's
// default cap of 100 concurrent streams per connection), reading from each message the two
// fields the check needs (readDelivery): a client far lighter than the servers it measures,
// which matters on a 2-core machine where clients, servers, PostgreSQL and Redis share the CPUs. Each message's
// content carries its index and send time (performance.now() of this process, right before
// SendMessage); a delivery's delay is its receipt time minus that. Every subscriber must get
// every message exactly once and in sequence order, or the script says so and exits 1.
//
// A server that cannot keep up does not make the run endless: after the last send, deliveries
// get DRAIN_SECONDS (15) more, then whatever is missing counts as later than that in the
// percentiles (printed as "> 15000 ms") and as undelivered in the verdict. An instance that has
// not exited 10 s after SIGTERM is killed, and the report says so.
//
// The instances inherit this process's environment apart from the variables set below, so a
// server setting can be tried without editing anything, e.g. EVENT_POLL_MS=60000 to see what
// each stream's periodic look at the events table costs with 1,000 streams (and SETUPS=two runs
// the two-instance setup only). They share one admin token and signing key, and run with the
// rate and stream limits off unless the environment sets them (bench/auth.ts): 1,000 streams
// from one address is the point here. Every call, the raw subscribers' included, is the admin's.
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { type ClientHttp2Session, connect } from "node:http2";
import { createInterface } from "node:readline";
import { create, toBinary } from "@bufbuild/protobuf";
import { BinaryReader } from "@bufbuild/protobuf/wire";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Redis } from "ioredis";
import postgres from "postgres";
import {
  ChatMessageSchema,
  ChatService,
  SubscribeRequestSchema,
  SubscribeResponseSchema,
} from "../gen/switchboard/v1/chat_pb.js";
import { UserService } from "../gen/switchboard/v1/user_pb.js";
import { asAdmin, benchAdminToken, benchAuth, limitsOff } from "./auth.ts";
import { cpuSecondsOf } from "./lib/proc.ts";
import { serverNodeArgs } from "./lib/switchboard.ts";

const subscriberCount = Number(process.argv[2] ?? 1000);
const rate = Number(process.argv[3] ?? 200);
const seconds = Number(process.argv[4] ?? 3);
const messageCount = Math.round(rate * seconds);
const streamsPerConnection = 50;
const drainMs = Number(process.env.DRAIN_SECONDS ?? 15) * 1000;
const databaseUrl = process.env.DATABASE_URL;
const redisUrl = process.env.REDIS_URL;
if (!databaseUrl || !redisUrl) throw new Error("set DATABASE_URL and REDIS_URL");
const root = new URL("..", import.meta.url).pathname;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ms = (n: number) => (Number.isFinite(n) ? `${n.toFixed(2)} ms` : `> ${drainMs} ms`);

// A database of its own, dropped at the end; both setups use it, each with its own room.
const dbName = `switchboard_bench_${Date.now()}`;
const admin = postgres(databaseUrl, { max: 1, onnotice: () => {} });
await admin.unsafe(`create database ${dbName}`);
const benchUrl = new URL(databaseUrl);
benchUrl.pathname = `/${dbName}`;
const redisNamespace = `switchboard-bench:${dbName}`;

interface Instance {
  url: string;
  proc: ChildProcess;
}

/** What the instances logged (LOG_LEVEL=warn), tallied by message for the report. */
const instanceLogs = new Map<string, number>();
function tally(line: string): void {
  let msg = line;
  try {
    const entry = JSON.parse(line) as { msg?: string; err?: { message?: string } };
    msg = [entry.msg, entry.err?.message].filter(Boolean).join(": ");
  } catch {}
  instanceLogs.set(msg, (instanceLogs.get(msg) ?? 0) + 1);
}
function printLogs(): void {
  for (const [msg, n] of instanceLogs) console.log(`  instances: ${n}× "${msg}"`);
  instanceLogs.clear();
}

async function startInstance(port: number, withRedis: boolean): Promise<Instance> {
  const env: Record<string, string | undefined> = {
    ...limitsOff,
    ...process.env,
    ...benchAuth,
    PORT: String(port),
    HOST: "127.0.0.1",
    DATABASE_URL: benchUrl.toString(),
    REDIS_URL: withRedis ? redisUrl : undefined,
    REDIS_NAMESPACE: redisNamespace,
    LOG_LEVEL: "warn",
    DRAIN_TIMEOUT_MS: "2000",
  };
  if (!withRedis) delete env.REDIS_URL;
  const proc = spawn(process.execPath, [...serverNodeArgs(), "server/src/main.ts"], {
    cwd: root,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  for (const out of [proc.stdout, proc.stderr]) createInterface({ input: out }).on("line", tally);
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    if (proc.exitCode !== null) throw new Error(`instance on ${port} exited with ${proc.exitCode}`);
    try {
      if ((await fetch(`${url}/readyz`)).ok) return { url, proc };
    } catch {}
    await sleep(100);
  }
  throw new Error(`${url} did not become ready`);
}

/** SIGTERM, and SIGKILL if the process has not exited 10 s later (said in the report). */
async function stopInstance({ proc, url }: Instance): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once("exit", r));
  proc.kill("SIGTERM");
  const timer = setTimeout(() => {
    tally(`instance ${url} had not exited 10 s after SIGTERM: killed`);
    proc.kill("SIGKILL");
  }, 10_000);
  await exited;
  clearTimeout(timer);
}

// The fields a delivery is checked by, numbered as the generated schema says.
const messageField = SubscribeResponseSchema.field.message.number;
const sequenceField = ChatMessageSchema.field.sequence.number;
const contentField = ChatMessageSchema.field.content.number;

/**
 * Reads a SubscribeResponse's message sequence and content straight off the wire, skipping
 * the rest: fromBinary builds every field of every message (the timestamp, four strings), and
 * at 200,000 deliveries a second that alone made this client the bottleneck of the run.
 */
function readDelivery(bytes: Uint8Array, onMessage: (sequence: number, content: string) => void): void {
  const response = new BinaryReader(bytes);
  while (response.pos < response.len) {
    const [no, type] = response.tag();
    if (no !== messageField) {
      response.skip(type, no);
      continue;
    }
    const message = new BinaryReader(response.bytes());
    let sequence = 0;
    let content = "";
    while (message.pos < message.len) {
      const [field, wireType] = message.tag();
      if (field === sequenceField) sequence = Number(message.int64());
      else if (field === contentField) content = message.string();
      else message.skip(wireType, field);
    }
    onMessage(sequence, content);
  }
}

/** One Subscribe stream, raw gRPC over an HTTP/2 session; calls back per message. */
function subscribe(
  session: ClientHttp2Session,
  room: string,
  onMessage: (sequence: number, content: string) => void,
  onEnd: (status: string) => void,
): () => void {
  const stream = session.request({
    ":method": "POST",
    ":path": "/switchboard.v1.ChatService/Subscribe",
    "content-type": "application/grpc",
    te: "trailers",
    authorization: `Bearer ${benchAdminToken}`,
  });
  const body = toBinary(SubscribeRequestSchema, create(SubscribeRequestSchema, { room }));
  const frame = Buffer.alloc(5 + body.length);
  frame.writeUInt32BE(body.length, 1);
  frame.set(body, 5);
  stream.end(frame);
  let pending: Buffer = Buffer.alloc(0);
  let status = "closed without a status";
  stream.on("data", (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 5) {
      const length = pending.readUInt32BE(1);
      if (pending.length < 5 + length) break;
      readDelivery(pending.subarray(5, 5 + length), onMessage);
      pending = pending.subarray(5 + length);
    }
  });
  const onHeaders = (headers: Record<string, unknown>) => {
    if (headers["grpc-status"] !== undefined) {
      status = `grpc-status ${headers["grpc-status"]} ${headers["grpc-message"] ?? ""}`.trim();
    }
  };
  stream.on("response", onHeaders);
  stream.on("trailers", onHeaders);
  stream.on("error", (err: Error) => {
    status = err.message;
  });
  stream.on("close", () => onEnd(status));
  return () => stream.close();
}

interface RunResult {
  label: string;
  /** Seconds until every subscriber was live, and from the last send to the end of the wait. */
  upSeconds: number;
  drainSeconds: number;
  /** Deliveries per second from the first send to the last delivery. */
  throughput: number;
  sendSeconds: number;
  sendFailures: number;
  expected: number;
  delivered: number;
  duplicates: number;
  outOfOrder: number;
  endedEarly: Map<string, number>;
  /** Send → receipt over every expected delivery; a missing one counts as infinitely late. */
  delay: { p50: number; p99: number; max: number };
  /** SendMessage answered → receipt (negative: the subscriber had it first). */
  afterAck: { p50: number; p99: number };
  /** SendMessage round trip. */
  ack: { p50: number; p99: number };
  /** CPU seconds each instance, and this process, used from the first send to the end of the wait. */
  cpu: { instances: number[]; client: number };
}

/** Percentiles over `total` samples of which only the `sorted` ones are finite. */
function percentiles(sorted: Float64Array, total = sorted.length) {
  const at = (p: number) => {
    const rank = Math.min(total - 1, Math.floor((p / 100) * total));
    return rank < sorted.length ? (sorted[rank] ?? Number.NaN) : Number.POSITIVE_INFINITY;
  };
  return { p50: at(50), p99: at(99), max: sorted.length < total ? Number.POSITIVE_INFINITY : at(100) };
}

async function run(label: string, instances: Instance[], withRedis: boolean): Promise<RunResult> {
  const began = performance.now();
  const room = `fanout-${randomUUID().slice(0, 8)}`;
  const senders = instances.map((i) =>
    createClient(ChatService, createGrpcTransport({ baseUrl: i.url, interceptors: [asAdmin] })),
  );
  const first = instances[0];
  if (!first) throw new Error("no instance");
  const { user } = await createClient(
    UserService,
    createGrpcTransport({ baseUrl: first.url, interceptors: [asAdmin] }),
  ).createUser({
    name: "Bench",
    email: `bench-${randomUUID()}@example.com`,
    age: 30,
  });
  const userId = user?.id ?? "";

  // Connections alternate over the instances, subscribers spread evenly over the connections.
  const connectionCount = Math.max(instances.length, Math.ceil(subscriberCount / streamsPerConnection));
  const sessions = Array.from({ length: connectionCount }, (_, c) => {
    const session = connect(instances[c % instances.length]?.url ?? "");
    session.on("error", () => {});
    return session;
  });
  // received[s * (messageCount + 1) + i]: message i (0 is the warm-up) reached subscriber s.
  const received = new Uint8Array(subscriberCount * (messageCount + 1));
  // Per first delivery: which message, and its receipt time minus the send time in its content.
  const deliveredIndex = new Uint32Array(subscriberCount * messageCount);
  const deliveredDelay = new Float64Array(subscriberCount * messageCount);
  let lastDelivery = 0;
  let delivered = 0;
  let duplicates = 0;
  let outOfOrder = 0;
  let warmedUp = 0;
  let ended = 0;
  let closing = false;
  const endedEarly = new Map<string, number>();
  const closers: (() => void)[] = [];
  for (let s = 0; s < subscriberCount; s++) {
    const session = sessions[s % connectionCount];
    if (!session) throw new Error("no session");
    let lastSequence = 0;
    const onMessage = (sequence: number, content: string) => {
      const now = performance.now();
      if (sequence <= lastSequence) outOfOrder++;
      lastSequence = sequence;
      const space = content.indexOf(" ");
      const index = content === "warm-up" ? 0 : Number(content.slice(0, space));
      const slot = s * (messageCount + 1) + index;
      if (received[slot]) {
        duplicates++;
        return;
      }
      received[slot] = 1;
      if (index === 0) {
        warmedUp++;
        return;
      }
      deliveredIndex[delivered] = index;
      deliveredDelay[delivered] = now - Number(content.slice(space + 1));
      lastDelivery = now;
      delivered++;
    };
    const onEnd = (status: string) => {
      ended++;
      if (!closing) endedEarly.set(status, (endedEarly.get(status) ?? 0) + 1);
    };
    closers.push(subscribe(session, room, onMessage, onEnd));
  }

  // A stream is live once it received the warm-up: it subscribes to the bus before it reads
  // the table, and a fresh room has no history before the warm-up.
  await sleep(500);
  await senders[0]?.sendMessage({ room, userId, content: "warm-up" });
  for (let i = 0; warmedUp + ended < subscriberCount && i < 1200; i++) await sleep(50);
  if (warmedUp < subscriberCount) throw new Error(`${label}: only ${warmedUp} subscribers came up`);
  if (withRedis) {
    // And every instance holds the room's Redis channel.
    const probe = new Redis(redisUrl ?? "");
    const channel = `${redisNamespace}:events:chat:${room}`;
    const [, holders] = (await probe.call("PUBSUB", "NUMSUB", channel)) as [string, number];
    probe.disconnect();
    if (Number(holders) !== instances.length) {
      throw new Error(`${label}: ${holders} instances subscribed to ${channel}`);
    }
  }

  const upSeconds = (performance.now() - began) / 1000;

  // Open loop at the given rate: message i goes out at start + (i - 1) / rate whether or not
  // earlier ones were answered, alternating over the instances. The content carries the send time.
  const sentAt = new Float64Array(messageCount + 1);
  const ackedAt = new Float64Array(messageCount + 1).fill(Number.NaN);
  let pending = 0;
  let sendFailures = 0;
  const cpuOfInstances = () => instances.map((i) => (i.proc.pid ? cpuSecondsOf(i.proc.pid) : Number.NaN));
  const cpuAtStart = { instances: cpuOfInstances(), client: process.cpuUsage() };
  const start = performance.now();
  for (let i = 1; i <= messageCount; i++) {
    const wait = start + ((i - 1) * 1000) / rate - performance.now();
    if (wait > 1) await sleep(wait);
    const sender = senders[i % senders.length];
    if (!sender) throw new Error("no sender");
    const at = performance.now();
    sentAt[i] = at;
    pending++;
    sender.sendMessage({ room, userId, content: `${i} ${at}` }).then(
      () => {
        ackedAt[i] = performance.now();
        pending--;
      },
      () => {
        sendFailures++;
        pending--;
      },
    );
  }
  const sendSeconds = (performance.now() - start) / 1000;
  const expected = subscriberCount * messageCount;
  const lastSent = performance.now();
  while ((delivered < expected || pending > 0) && performance.now() < lastSent + drainMs) await sleep(50);
  const drainSeconds = (performance.now() - lastSent) / 1000;
  const clientCpu = process.cpuUsage(cpuAtStart.client);
  const cpu = {
    instances: cpuOfInstances().map((s, n) => s - (cpuAtStart.instances[n] ?? 0)),
    client: (clientCpu.user + clientCpu.system) / 1e6,
  };
  await sleep(200); // a late duplicate would show up here
  closing = true;
  for (const close of closers) close();
  for (const session of sessions) session.destroy();

  const delays = deliveredDelay.slice(0, delivered);
  const afterAck: number[] = [];
  for (let d = 0; d < delivered; d++) {
    const index = deliveredIndex[d] ?? 0;
    const receivedAt = (sentAt[index] ?? 0) + (delays[d] ?? 0);
    const acked = ackedAt[index] ?? Number.NaN;
    if (!Number.isNaN(acked)) afterAck.push(receivedAt - acked);
  }
  delays.sort();
  const acks = new Float64Array(messageCount);
  let ackCount = 0;
  for (let i = 1; i <= messageCount; i++) {
    const acked = ackedAt[i] ?? Number.NaN;
    if (!Number.isNaN(acked)) acks[ackCount++] = acked - (sentAt[i] ?? 0);
  }
  return {
    label,
    upSeconds,
    drainSeconds,
    throughput: delivered / (Math.max(1, lastDelivery - start) / 1000),
    sendSeconds,
    sendFailures,
    expected,
    delivered,
    duplicates,
    outOfOrder,
    endedEarly,
    delay: percentiles(delays, expected),
    afterAck: percentiles(Float64Array.from(afterAck).sort()),
    ack: percentiles(acks.slice(0, ackCount).sort(), messageCount),
    cpu,
  };
}

/** The floor: one Redis publish to a subscriber on another connection, one at a time. */
async function redisRoundTrip(count: number): Promise<{ p50: number; p99: number }> {
  const pub = new Redis(redisUrl ?? "");
  const sub = new Redis(redisUrl ?? "");
  const channel = `${redisNamespace}:reference`;
  await sub.subscribe(channel);
  const samples = new Float64Array(count);
  let sentAt = 0;
  let got: () => void = () => {};
  sub.on("message", () => got());
  for (let i = 0; i < count; i++) {
    const arrived = new Promise<void>((r) => {
      got = r;
    });
    sentAt = performance.now();
    await pub.publish(channel, "x");
    await arrived;
    samples[i] = performance.now() - sentAt;
  }
  pub.disconnect();
  sub.disconnect();
  return percentiles(samples.sort());
}

function report(r: RunResult): boolean {
  const ok =
    r.delivered === r.expected &&
    r.duplicates === 0 &&
    r.outOfOrder === 0 &&
    r.endedEarly.size === 0 &&
    r.sendFailures === 0;
  console.log(r.label);
  console.log(
    `  send → receipt:          p50 ${ms(r.delay.p50)}, p99 ${ms(r.delay.p99)}, max ${ms(r.delay.max)}`,
  );
  console.log(`  SendMessage round trip:  p50 ${ms(r.ack.p50)}, p99 ${ms(r.ack.p99)}`);
  console.log(`  SendMessage answered → receipt: p50 ${ms(r.afterAck.p50)}, p99 ${ms(r.afterAck.p99)}`);
  console.log(
    `  delivered ${r.delivered} of ${r.expected} (${messageCount} messages × ${subscriberCount} subscribers; ` +
      `sends went out over ${r.sendSeconds.toFixed(2)} s = ${(messageCount / r.sendSeconds).toFixed(0)}/s)` +
      (r.sendFailures ? `, ${r.sendFailures} sends failed` : "") +
      (r.duplicates ? `, ${r.duplicates} duplicates` : "") +
      (r.outOfOrder ? `, ${r.outOfOrder} out of order` : ""),
  );
  console.log(
    `  deliveries per second, first send to last delivery: ${r.throughput.toFixed(0)} (offered: ${rate * subscriberCount}/s)`,
  );
  const perDelivery = (s: number) => `${((s * 1e6) / Math.max(1, r.delivered)).toFixed(1)} µs`;
  const instanceCpu = r.cpu.instances.reduce((a, b) => a + b, 0);
  console.log(
    `  CPU from the first send to the end of the wait: instances ${r.cpu.instances.map((s) => `${s.toFixed(2)} s`).join(" + ")} ` +
      `(${perDelivery(instanceCpu)} a delivery), this client ${r.cpu.client.toFixed(2)} s (${perDelivery(r.cpu.client)} a delivery)`,
  );
  for (const [status, n] of r.endedEarly) console.log(`  ${n} streams ended early: ${status}`);
  console.log(
    `  took: ${r.upSeconds.toFixed(1)} s until every subscriber was live, ${r.sendSeconds.toFixed(1)} s sending, ` +
      `${r.drainSeconds.toFixed(1)} s more until the last delivery (or the ${drainMs / 1000} s limit)`,
  );
  printLogs();
  if (!ok) {
    console.log(
      `  FAILED: not every subscriber got every message exactly once and in order within ${drainMs} ms of the last send`,
    );
  }
  return ok;
}

const ratio = (a: number, b: number) => (Number.isFinite(a) ? `×${(a / b).toFixed(1)}` : "n/a (undelivered)");
const base = 19500 + Math.floor(Math.random() * 400);
const running: Instance[] = [];
let ok = true;
try {
  console.log(
    `chat fan-out: ${subscriberCount} Subscribe streams on one room, ${messageCount} messages at ${rate}/s; ` +
      `PostgreSQL (database ${dbName}) in both setups`,
  );
  const redis = await redisRoundTrip(1000);

  running.push(...(await Promise.all([startInstance(base, true), startInstance(base + 1, true)])));
  const two = await run(
    `two instances + Redis: ${subscriberCount / 2} subscribers on each, sends alternate between them`,
    running,
    true,
  );
  await Promise.all(running.splice(0).map(stopInstance));
  ok = report(two) && ok;

  // SETUPS=two skips the in-process setup (quicker when trying a change to the fan-out).
  const one = (process.env.SETUPS ?? "two,one").split(",").includes("one")
    ? await (async () => {
        running.push(await startInstance(base + 2, false));
        const result = await run(
          `one instance, in-process bus (no REDIS_URL): all ${subscriberCount} subscribers`,
          running,
          false,
        );
        await Promise.all(running.splice(0).map(stopInstance));
        ok = report(result) && ok;
        return result;
      })()
    : undefined;

  console.log(
    `raw Redis pub/sub round trip (reference, 1,000 one at a time): p50 ${ms(redis.p50)}, p99 ${ms(redis.p99)}`,
  );
  console.log(
    `two instances + Redis, send → receipt vs raw Redis: p50 ${ratio(two.delay.p50, redis.p50)}, p99 ${ratio(two.delay.p99, redis.p99)}`,
  );
  if (one) {
    console.log(
      `one instance in-process, send → receipt vs raw Redis: p50 ${ratio(one.delay.p50, redis.p50)}, p99 ${ratio(one.delay.p99, redis.p99)}`,
    );
  }
} catch (err) {
  ok = false;
  console.error(err);
} finally {
  await Promise.all(running.map(stopInstance));
  await admin.unsafe(`drop database if exists ${dbName} with (force)`);
  await admin.end();
}
process.exit(ok ? 0 : 1);
