// What one call of each kind the attack suite sends costs the server: CPU time and heap
// allocation per call, measured by the server process itself (isolated-server.ts), so the
// figures do not depend on how busy the machine is. Run: node server/test/security/cost-probe.ts
import { randomUUID } from "node:crypto";
import { type Client, ConnectError, createClient } from "@connectrpc/connect";
import { ChatService } from "../../../gen/switchboard/v1/chat_pb.js";
import { OrderService } from "../../../gen/switchboard/v1/order_pb.js";
import { UserService } from "../../../gen/switchboard/v1/user_pb.js";
import { createSignedInUser, testAdminToken } from "../support/auth.ts";
import { startIsolatedServer, type WindowStats } from "./isolated-server.ts";
import { connectRawH2 } from "./raw-h2.ts";
import { attackLimits, clientAs, codeName, fromAddress, pool, tally, transportAs } from "./support.ts";

const env = attackLimits;
const only = process.argv[2] ? process.argv[2].split(",") : undefined;
const rounds = Number(process.argv[3] ?? 1);
const server = await startIsolatedServer(env);
const setup = fromAddress("192.0.2.1");
const [carol, mallory, hasty, holder] = await Promise.all(
  ["Carol", "Mallory", "Hasty", "Holder"].map((name) => createSignedInUser(server.url, { name })),
);
if (!carol || !mallory || !hasty || !holder) throw new Error("no users");
const admin = clientAs(OrderService, server.url, "grpc", testAdminToken, setup);
const { order: carolOrder } = await admin.createOrder({
  userId: carol.user.id,
  productId: "p",
  quantity: 1,
  idempotencyKey: randomUUID(),
});

const outcome = async (call: () => Promise<unknown>) => {
  try {
    await call();
    return "OK";
  } catch (err) {
    const ce = ConnectError.from(err);
    if (process.env.PROBE_MESSAGES) return `${codeName(ce.code)}: ${ce.rawMessage}`;
    return codeName(ce.code);
  }
};

async function measure(name: string, n: number, run: () => Promise<string[]>) {
  const results: WindowStats[] = [];
  let answers = {};
  for (let r = 0; r < rounds; r++) {
    await new Promise((res) => setTimeout(res, 300));
    await server.windowStart();
    answers = tally(await run());
    results.push(await server.windowEnd(`probe-${name}`));
  }
  const med = (f: (s: WindowStats) => number) => {
    const v = results.map(f).sort((a, b) => a - b);
    return v[Math.floor(v.length / 2)] ?? Number.NaN;
  };
  const gcMs = (s: WindowStats) => Object.values(s.gc).reduce((a, g) => a + g.ms, 0);
  console.log(
    `${name.padEnd(16)} ${String(n).padStart(6)} calls: CPU ${((med((s) => s.cpuMs) * 1000) / n).toFixed(0).padStart(5)} µs/call, ` +
      `allocated ${((med((s) => s.allocatedMb) * 1024) / n).toFixed(1).padStart(6)} KB/call, GC ${med(gcMs).toFixed(0)} ms ` +
      `(${JSON.stringify(answers)})`,
  );
}

/** 2,000 Subscribe calls, 100 at a time, each expected to be refused; reported as `name`. */
async function measureRefusedSubscribes(name: string, chat: Client<typeof ChatService>) {
  const n = 2000;
  await measure(name, n, () =>
    pool(
      100,
      Array.from(
        { length: n },
        () => () =>
          outcome(async () => {
            for await (const _ of chat.subscribe({ room: "probe" })) break;
          }),
      ),
    ),
  );
}

const scenarios: Record<string, () => Promise<void>> = {
  async ok() {
    const users = clientAs(UserService, server.url, "grpc", carol.token, {});
    await pool(
      16,
      Array.from({ length: 200 }, () => () => outcome(() => users.getUser({ id: carol.user.id }))),
    );
    const n = 3000;
    await measure("GetUser ok", n, () =>
      pool(
        16,
        Array.from({ length: n }, () => () => outcome(() => users.getUser({ id: carol.user.id }))),
      ),
    );
  },
  async notFound() {
    const orders = clientAs(OrderService, server.url, "grpc", mallory.token, fromAddress("198.51.100.1"));
    const n = 2000;
    await measure("GetOrder other's", n, () =>
      pool(
        16,
        Array.from({ length: n }, () => () => outcome(() => orders.getOrder({ id: carolOrder?.id ?? "" }))),
      ),
    );
  },
  async unauth() {
    const users = clientAs(UserService, server.url, "grpc", null, {
      authorization: "Bearer garbage",
      ...fromAddress("198.51.100.2"),
    });
    const n = 3000;
    await measure("bad token", n, () =>
      pool(
        16,
        Array.from({ length: n }, () => () => outcome(() => users.getUser({ id: carol.user.id }))),
      ),
    );
  },
  async rateLimited() {
    const orders = createClient(
      OrderService,
      transportAs("grpc", server.url, hasty.token, fromAddress("198.51.100.3"), 1000),
    );
    const call = () =>
      outcome(() => orders.createOrder({ productId: "b", quantity: 1, idempotencyKey: randomUUID() }));
    await pool(
      40,
      Array.from({ length: 100 }, () => call),
    );
    const n = 5000;
    await measure("rate-limited", n, () => Promise.all(Array.from({ length: n }, call)));
  },
  async streamRefused() {
    // Hold 32 streams (the per-user cap), then every further Subscribe is refused.
    const chat = createClient(
      ChatService,
      transportAs("grpc", server.url, holder.token, fromAddress("198.51.100.4")),
    );
    const abort = new AbortController();
    const held = Array.from({ length: 32 }, () =>
      chat
        .subscribe({ room: "probe" }, { signal: abort.signal })
        [Symbol.asyncIterator]()
        .next()
        .catch(() => {}),
    );
    await new Promise((r) => setTimeout(r, 1000));
    await measureRefusedSubscribes("stream refused", chat);
    abort.abort();
    await Promise.all(held);
  },
  async addressRefused() {
    // Hold the address's 512 streams (16 users × 32), then every further Subscribe from it is refused.
    const address = fromAddress("198.51.100.6");
    const holders = await Promise.all(
      Array.from({ length: 16 }, (_, i) => createSignedInUser(server.url, { name: `Holder ${i}` })),
    );
    const abort = new AbortController();
    const held = holders.flatMap((h) => {
      const chat = createClient(ChatService, transportAs("grpc", server.url, h.token, address));
      return Array.from({ length: 32 }, () =>
        chat
          .subscribe({ room: "probe" }, { signal: abort.signal })
          [Symbol.asyncIterator]()
          .next()
          .catch(() => {}),
      );
    });
    await new Promise((r) => setTimeout(r, 3000));
    const chat = createClient(ChatService, transportAs("grpc", server.url, mallory.token, address));
    await measureRefusedSubscribes("address refused", chat);
    abort.abort();
    await Promise.all(held);
  },
  async rapidReset() {
    const headers = {
      "content-type": "application/grpc",
      te: "trailers",
      authorization: `Bearer ${mallory.token}`,
      ...fromAddress("198.51.100.5"),
    };
    let streams = 0;
    const connections = 10;
    await measure(`rapid reset`, connections * 100, async () => {
      const out = await pool(
        4,
        Array.from({ length: connections }, () => async () => {
          const conn = await connectRawH2(server.port);
          await conn.serverSettings;
          const frames: Buffer[] = [];
          for (let i = 0; i < 1000; i++)
            frames.push(conn.openAndResetFrames("/switchboard.v1.ChatService/Subscribe", headers));
          conn.write(Buffer.concat(frames));
          await Promise.race([conn.closed, new Promise((r) => setTimeout(r, 3000))]);
          const processed = conn.goaway ? (conn.goaway.lastStreamId + 1) / 2 : 1000;
          streams += processed;
          conn.destroy();
          return conn.goaway ? "GOAWAY" : "open";
        }),
      );
      return out;
    });
    console.log(
      `  (streams taken up: ${streams / rounds} per round; per-call figures above assume 100 per connection)`,
    );
  },
};

for (const [name, run] of Object.entries(scenarios)) if (!only || only.includes(name)) await run();
await server.close();
