// One chat room across two instances sharing PostgreSQL and Redis, with a member on every
// kind of client: a grpc-js bidi stream and a Python grpcio bidi stream on instance A, and a
// browser on instance B (Subscribe over gRPC-Web, SendMessage over Connect JSON, both on
// HTTP/1.1 as connect-web does). Everyone sends at once; every member must receive every
// message exactly once, all in one order. Each member is a user signed in on A, calling with
// their own session token (B accepts it: the instances share AUTH_SECRET).
import assert from "node:assert/strict";
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { Code, ConnectError } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import { loadFileDescriptorSetFromBuffer } from "@grpc/proto-loader";
import { Redis } from "ioredis";
import { ChatService } from "../../gen/switchboard/v1/chat_pb.js";
import type { RunningServer } from "../src/server.ts";
import { chatTopic } from "../src/services/chat-messages.ts";
import { descriptorSet } from "./interop/paths.ts";
import { createSignedInUser } from "./support/auth.ts";
import { clientFor } from "./support/clients.ts";
import type { TestRedis } from "./support/redis-server.ts";
import { startTwoInstances, type TwoInstances } from "./support/two-instances.ts";

const skip = !process.env.DATABASE_URL && "needs DATABASE_URL (instances share one PostgreSQL)";
const python = process.env.INTEROP_PYTHON ?? "/usr/bin/python3";
const pythonClient = fileURLToPath(new URL("./chat/chat_client.py", import.meta.url));

// Far longer than the test waits for delivery: every live message must come over Redis, not
// from a stream's periodic look at the events table.
const eventPollMs = 60_000;

let pair: TwoInstances;
let redis: TestRedis;
let a: RunningServer;
let b: RunningServer;
before(async () => {
  if (skip) return;
  pair = await startTwoInstances({
    EVENT_POLL_MS: String(eventPollMs),
  });
  ({ a, b, redis } = pair);
});
after(async () => {
  await pair?.stop();
});

/** A message as every client's output is reduced to: the order's key and what was said. */
interface Seen {
  sequence: number;
  content: string;
  userId: string;
}

/** A user with a password, signed in on A: their id and session token. */
async function newUser(name: string): Promise<{ id: string; token: string }> {
  const { user, token } = await createSignedInUser(a.url, { name });
  return { id: user.id, token };
}

async function eventually(what: string, check: () => boolean | Promise<boolean>, ms = 15_000) {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) assert.fail(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

// grpc-js, with its schema read at run time from the descriptor set (proto field names, int64
// as a string), as a plain grpc-js user with no generated code would have it.
const chatMethod = loadFileDescriptorSetFromBuffer(readFileSync(descriptorSet), {
  longs: String,
  defaults: true,
})["switchboard.v1.ChatService"] as grpc.ServiceDefinition;
const chatDefinition = chatMethod.Chat as grpc.MethodDefinition<object, GrpcJsChatResponse>;
interface GrpcJsChatResponse {
  message: { id: string; room: string; user_id: string; content: string; sequence: string };
}

/**
 * A grpc-js bidi Chat stream as the user whose session `token` it sends: `seen` fills as
 * messages arrive, `ended` settles with the call.
 */
function grpcJsMember(url: string, token: string) {
  const client = new grpc.Client(new URL(url).host, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  metadata.set("authorization", `Bearer ${token}`);
  const call = client.makeBidiStreamRequest(
    chatDefinition.path,
    chatDefinition.requestSerialize,
    chatDefinition.responseDeserialize,
    metadata,
    { deadline: Date.now() + 60_000 },
  );
  const seen: Seen[] = [];
  call.on("data", (res: GrpcJsChatResponse) => {
    seen.push({
      sequence: Number(res.message.sequence),
      content: res.message.content,
      userId: res.message.user_id,
    });
  });
  const ended = new Promise<grpc.StatusObject>((resolve) => call.on("status", resolve));
  call.on("error", () => {}); // the status says it all
  return {
    seen,
    send: (req: { room: string; user_id?: string; content: string }) => call.write(req),
    halfClose: () => call.end(),
    ended,
    close: () => client.close(),
  };
}

/**
 * The Python grpcio member (chat/chat_client.py), calling with the session `token` of the user
 * `userId`: it joins at once and posts when told.
 */
function pythonMember(
  address: string,
  room: string,
  { id: userId, token }: { id: string; token: string },
  expect: number,
  contents: string[],
) {
  const proc: ChildProcessWithoutNullStreams = spawn(
    python,
    [pythonClient, address, descriptorSet, room, userId, String(expect), ...contents],
    { env: { ...process.env, SWITCHBOARD_TOKEN: token } },
  );
  const seen: Seen[] = [];
  const other: unknown[] = [];
  let stderr = "";
  proc.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  createInterface({ input: proc.stdout }).on("line", (line) => {
    const out = JSON.parse(line) as {
      message?: { sequence?: string; content?: string; user_id?: string };
    };
    if (out.message) {
      seen.push({
        sequence: Number(out.message.sequence ?? 0),
        content: out.message.content ?? "",
        userId: out.message.user_id ?? "",
      });
    } else {
      other.push(out);
    }
  });
  const exited = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => proc.kill("SIGKILL"), 60_000);
    proc.on("close", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else
        reject(
          new Error(`${python} chat_client.py exited with ${code}: ${JSON.stringify(other)}\n${stderr}`),
        );
    });
  });
  return {
    seen,
    /** Its last line: {"done": true, "received": n}. */
    other,
    send: () => proc.stdin.write("send\n"),
    exited,
    kill: () => proc.kill("SIGKILL"),
  };
}

test("grpc-js and Python bidi on A, a gRPC-Web/Connect browser on B: every message once, one order", {
  skip,
  timeout: 90_000,
}, async () => {
  const room = `cross-${randomUUID().slice(0, 8)}`;
  const [ada, guido, bea] = await Promise.all([newUser("ada"), newUser("guido"), newUser("bea")]);
  const perSender = 5;
  const sent = {
    grpcJs: Array.from({ length: perSender }, (_, i) => `grpc-js bidi on A #${i}`),
    python: Array.from({ length: perSender }, (_, i) => `python grpcio bidi on A #${i}`),
    browser: Array.from({ length: perSender }, (_, i) => `connect json on B #${i}`),
  };
  const total = perSender * 3;
  const baseA = a.ctx.bus.subscriptionCount();
  const baseB = b.ctx.bus.subscriptionCount();

  // A: grpc-js joins with an empty message, as the token's user (no user_id); Python joins the
  // same way on its own connection, naming its user.
  const node = grpcJsMember(a.url, ada.token);
  node.send({ room, content: "" });
  const py = pythonMember(new URL(a.url).host, room, guido, total, sent.python);
  // B: the browser listens with Subscribe over gRPC-Web (HTTP/1.1).
  const browserSeen: Seen[] = [];
  const browserAbort = new AbortController();
  const browserDone = (async () => {
    for await (const res of clientFor(ChatService, b.url, "grpc-web", bea.token).subscribe(
      { room },
      { signal: browserAbort.signal },
    )) {
      const m = res.message;
      if (m) browserSeen.push({ sequence: Number(m.sequence), content: m.content, userId: m.userId });
    }
  })().catch((err: unknown) => {
    if (ConnectError.from(err).code !== Code.Canceled) throw err;
  });

  try {
    await eventually(
      "both bidi members are subscribed on A and the browser on B",
      () => a.ctx.bus.subscriptionCount() === baseA + 2 && b.ctx.bus.subscriptionCount() === baseB + 1,
    );
    // And both instances hold the room's Redis channel, so nothing is sent before they hear it.
    const probe = new Redis(redis.url);
    try {
      const channel = `${a.ctx.config.redisNamespace}:events:${chatTopic(room)}`;
      await eventually("both instances subscribed to the room's Redis channel", async () => {
        const [, count] = (await probe.call("PUBSUB", "NUMSUB", channel)) as [string, number];
        return Number(count) === 2;
      });
    } finally {
      probe.disconnect();
    }

    // Everyone sends at once: three writers, two instances, three protocols.
    py.send();
    for (const content of sent.grpcJs) node.send({ room, content });
    const browserSend = clientFor(ChatService, b.url, "connect-json", bea.token);
    for (const content of sent.browser) await browserSend.sendMessage({ room, content });

    await eventually(
      `all ${total} messages reached every member`,
      () => node.seen.length >= total && py.seen.length >= total && browserSeen.length >= total,
    );
    // Anything delivered twice would come now, or (bidi) before its stream ends.
    await new Promise((r) => setTimeout(r, 300));
    node.halfClose();
    const status = await node.ended;
    assert.equal(status.code, grpc.status.OK, `grpc-js stream ended with ${status.code}: ${status.details}`);
    await py.exited;
    assert.deepEqual(py.other.at(-1), { done: true, received: total });
    browserAbort.abort();
    await browserDone;
  } finally {
    node.close();
    py.kill();
    browserAbort.abort();
  }

  const members = {
    "grpc-js on A": node.seen,
    "python grpcio on A": py.seen,
    "gRPC-Web browser on B": browserSeen,
  };
  const everything = [...sent.grpcJs, ...sent.python, ...sent.browser].sort();
  const order = node.seen.map((m) => `${m.sequence}:${m.content}`);
  for (const [member, seen] of Object.entries(members)) {
    // Every message, each once.
    assert.deepEqual(
      seen.map((m) => m.content).sort(),
      everything,
      `${member} received every message exactly once`,
    );
    // The room's order: sequences 1..n in delivery order, and the same message at each sequence.
    assert.deepEqual(
      seen.map((m) => m.sequence),
      Array.from({ length: total }, (_, i) => i + 1),
      `${member} received in sequence order`,
    );
    assert.deepEqual(
      seen.map((m) => `${m.sequence}:${m.content}`),
      order,
      `${member} saw the same order`,
    );
  }
  // Each writer's messages keep the order it sent them in, and carry its user.
  const bySender = ({ id }: { id: string }) => node.seen.filter((m) => m.userId === id).map((m) => m.content);
  assert.deepEqual(bySender(ada), sent.grpcJs);
  assert.deepEqual(bySender(guido), sent.python);
  assert.deepEqual(bySender(bea), sent.browser);

  // Every stream let go of its subscription on both instances.
  await eventually(
    "every subscription is released",
    () => a.ctx.bus.subscriptionCount() === baseA && b.ctx.bus.subscriptionCount() === baseB,
  );
});
