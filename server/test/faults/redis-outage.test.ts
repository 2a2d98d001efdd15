// Item D of the operations issue: Redis down for several seconds while orders and chat
// messages are written through two instances. Writes keep succeeding, live streams fall back
// to polling the events table, every subscriber ends up with every event exactly once and in
// order, and /readyz and Health Watch report the degradation and the recovery.
//
// Design: a bus outage is a degradation, not an outage. "" and every service stay SERVING
// and /readyz stays 200 (a balancer must not drain instances that still take writes), the
// /readyz body names it ("ready, degraded: events") and the health component
// "switchboard.events" is NOT_SERVING until the bus is back.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, test } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus as S } from "../../../gen/grpc/health/v1/health_pb.js";
import { ChatService } from "../../../gen/switchboard/v1/chat_pb.js";
import { OrderService } from "../../../gen/switchboard/v1/order_pb.js";
import type { RunningServer } from "../../src/server.ts";
import { clientFor } from "../support/clients.ts";
import type { TestRedis } from "../support/redis-server.ts";
import { startTwoInstances, type TwoInstances } from "../support/two-instances.ts";
import { newUserId } from "../support/users.ts";
import { eventually } from "../support/wait.ts";
import { sleep } from "./support/load.ts";

const skip = !process.env.DATABASE_URL && "needs DATABASE_URL (two instances share one PostgreSQL)";
const outageMs = 6_000;

let pair: TwoInstances;
let redis: TestRedis;
let a: RunningServer;
let b: RunningServer;
before(async () => {
  if (skip) return;
  pair = await startTwoInstances({
    EVENT_POLL_MS: "300",
    HEALTH_CHECK_INTERVAL_MS: "200",
  });
  ({ a, b, redis } = pair);
});
after(async () => {
  await pair?.stop();
});

/** Every status a Health Watch of `service` reports, with the time it came. */
function watchHealth(url: string, service: string, stop: AbortSignal) {
  const seen: { status: S; at: number }[] = [];
  (async () => {
    try {
      for await (const res of clientFor(Health, url, "grpc").watch({ service }, { signal: stop })) {
        seen.push({ status: res.status, at: Date.now() });
      }
    } catch {}
  })();
  return seen;
}

async function readyz(url: string): Promise<string> {
  const res = await fetch(`${url}/readyz`);
  return `${res.status} ${(await res.text()).trim()}`;
}

test("Redis down for 6 s under orders and chat: writes succeed, streams lose nothing, health reports it", {
  skip,
  timeout: 60_000,
}, async () => {
  const userId = await newUserId(a.url, "Outage");
  const room = `outage-${randomUUID().slice(0, 8)}`;
  const stop = new AbortController();
  const orderStreams = [a, b].map(() => [] as { sequence: bigint; product: string }[]);
  const chatStreams = [a, b].map(() => [] as { sequence: bigint; content: string }[]);
  const following = [a, b].flatMap((server, i) => [
    (async () => {
      const into = orderStreams[i] ?? [];
      try {
        for await (const res of clientFor(OrderService, server.url, "grpc").streamOrders(
          { userId, afterSequence: 0n },
          { signal: stop.signal },
        )) {
          if (res.event)
            into.push({ sequence: res.event.sequence, product: res.event.order?.productId ?? "" });
        }
      } catch (err) {
        if (ConnectError.from(err).code !== Code.Canceled) throw err;
      }
    })(),
    (async () => {
      const into = chatStreams[i] ?? [];
      try {
        for await (const res of clientFor(ChatService, server.url, "grpc").subscribe(
          { room, afterSequence: 0n },
          { signal: stop.signal },
        )) {
          if (res.message) into.push({ sequence: res.message.sequence, content: res.message.content });
        }
      } catch (err) {
        if (ConnectError.from(err).code !== Code.Canceled) throw err;
      }
    })(),
  ]);
  const eventsWatch = watchHealth(a.url, "switchboard.events", stop.signal);
  const serverWatch = watchHealth(a.url, "", stop.signal);
  // Under load the instances may still be settling (the bus's first PING): wait for a clean start.
  await eventually(
    "both watches answered SERVING",
    () => eventsWatch.at(-1)?.status === S.SERVING && serverWatch.at(-1)?.status === S.SERVING,
    15_000,
  );
  const settled = eventsWatch.length - 1;
  for (let i = 0; (await readyz(a.url)) !== "200 ready"; i++) {
    if (i > 100) assert.fail("instance A never became plainly ready");
    await sleep(50);
  }
  await sleep(200); // let the stream subscriptions reach Redis

  let n = 0;
  const expectedProducts: string[] = [];
  const expectedChat: string[] = [];
  const writeSome = async (count: number) => {
    for (let i = 0; i < count; i++, n++) {
      const via = n % 2 === 0 ? a : b;
      await clientFor(OrderService, via.url, "grpc").createOrder({
        userId,
        productId: `p${n}`,
        quantity: 1,
        idempotencyKey: `k${n}`,
      });
      expectedProducts.push(`p${n}`);
      await clientFor(ChatService, via.url, "connect-json").sendMessage({ room, userId, content: `m${n}` });
      expectedChat.push(`m${n}`);
    }
  };

  await writeSome(5);
  const downAt = Date.now();
  await redis.stop();
  // Writes during the outage all succeed (a failure throws here and fails the test).
  let writesDuringOutage = 0;
  while (Date.now() - downAt < outageMs) {
    await writeSome(1);
    writesDuringOutage++;
    await sleep(100);
  }
  const readyDuring = await readyz(a.url);
  const readyDuringB = await readyz(b.url);
  const degradedSeenAt = eventsWatch.find((s) => s.status === S.NOT_SERVING)?.at;
  await redis.start();
  const upAt = Date.now();
  await writeSome(5);

  await eventually(
    "every stream has every event",
    () =>
      orderStreams.every((s) => s.length >= expectedProducts.length) &&
      chatStreams.every((s) => s.length >= expectedChat.length),
    15_000,
  );
  await eventually("the bus is reported back", () => eventsWatch.at(-1)?.status === S.SERVING, 10_000);
  const recoveredAt = eventsWatch.at(-1)?.at ?? Number.NaN;
  const readyAfter = await readyz(a.url);
  await sleep(700); // anything extra (a repeat) would arrive now
  stop.abort();
  await Promise.all(following);

  console.log(
    JSON.stringify({
      outageMs: upAt - downAt,
      writesDuringOutage,
      degradedReportedAfterMs: (degradedSeenAt ?? Number.NaN) - downAt,
      recoveryReportedAfterMs: recoveredAt - upAt,
      readyDuring,
      events: expectedProducts.length + expectedChat.length,
    }),
  );
  for (const s of orderStreams) {
    assert.deepEqual(
      s.map((e) => e.product),
      expectedProducts,
    );
  }
  for (const s of chatStreams) {
    assert.deepEqual(
      s.map((e) => e.content),
      expectedChat,
    );
  }
  assert.equal(readyDuring, "200 ready, degraded: events");
  assert.equal(readyDuringB, "200 ready, degraded: events");
  assert.equal(readyAfter, "200 ready");
  assert.ok(degradedSeenAt !== undefined, "Watch(switchboard.events) reported NOT_SERVING during the outage");
  assert.deepEqual(
    eventsWatch.slice(settled).map((s) => S[s.status]),
    ["SERVING", "NOT_SERVING", "SERVING"],
  );
  // The instance as a whole never left SERVING: it kept taking writes.
  assert.deepEqual(serverWatch.map((s) => S[s.status]).slice(-1), ["SERVING"]);
  assert.ok(
    serverWatch.every((s) => s.status === S.SERVING),
    "the instance as a whole stayed SERVING through the outage",
  );
});
