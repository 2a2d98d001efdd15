// OrderService and NotificationService against the real server: the life cycle, idempotency
// enforced by the database, and live streams that replay, follow and resume.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { NotificationService } from "../../gen/switchboard/v1/notification_pb.js";
import {
  type OrderEvent,
  OrderEventType,
  OrderService,
  OrderStatus,
} from "../../gen/switchboard/v1/order_pb.js";
import { clientFor, collect, protocolNames } from "./support/clients.ts";
import { startTestServer, type TestServer } from "./support/test-server.ts";
import { newUserId } from "./support/users.ts";

let server: TestServer;
before(async () => {
  server = await startTestServer({ STREAM_BUFFER_EVENTS: "50" });
});
after(async () => {
  await server?.close();
});

const newUser = (tag: string) => newUserId(server.url, tag);

async function code(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "OK";
  } catch (err) {
    return `${Code[ConnectError.from(err).code]}: ${ConnectError.from(err).rawMessage}`;
  }
}

for (const protocol of protocolNames) {
  describe(`OrderService over ${protocol}`, () => {
    const orders = () => clientFor(OrderService, server.url, protocol);

    test("an order moves through its life cycle; illegal moves and stale versions are refused", async () => {
      const userId = await newUser(`life-${protocol}`);
      const { order } = await orders().createOrder({
        userId,
        productId: "sku-1",
        quantity: 2,
        idempotencyKey: "k1",
      });
      assert.ok(order);
      assert.equal(order.status, OrderStatus.PENDING);
      assert.equal((await orders().getOrder({ id: order.id })).order?.quantity, 2);

      const paid = await orders().updateOrderStatus({
        id: order.id,
        status: OrderStatus.PAID,
        expectedVersion: 1n,
      });
      assert.equal(paid.order?.status, OrderStatus.PAID);
      assert.equal(paid.order?.version, 2n);
      assert.equal(
        await code(orders().updateOrderStatus({ id: order.id, status: OrderStatus.DELIVERED })),
        `FailedPrecondition: order ${order.id} cannot move from PAID to DELIVERED`,
      );
      assert.match(
        await code(
          orders().updateOrderStatus({ id: order.id, status: OrderStatus.SHIPPED, expectedVersion: 1n }),
        ),
        /^Aborted: .*version 2/,
      );
      await orders().updateOrderStatus({ id: order.id, status: OrderStatus.SHIPPED });
      await orders().updateOrderStatus({ id: order.id, status: OrderStatus.DELIVERED });
      assert.match(
        await code(orders().updateOrderStatus({ id: order.id, status: OrderStatus.CANCELLED })),
        /^FailedPrecondition/,
      );
      assert.match(await code(orders().getOrder({ id: randomUUID() })), /^NotFound/);
      assert.match(await code(orders().getOrder({ id: "nope" })), /^InvalidArgument/);
      assert.match(
        await code(orders().updateOrderStatus({ id: order.id, status: OrderStatus.UNSPECIFIED })),
        /^InvalidArgument/,
      );
    });

    test("the same idempotency key returns the same order; an unknown user is NOT_FOUND", async () => {
      const userId = await newUser(`idem-${protocol}`);
      const req = { userId, productId: "sku-2", quantity: 1, idempotencyKey: "same" };
      const [a, b] = await Promise.all([orders().createOrder(req), orders().createOrder(req)]);
      assert.equal(a.order?.id, b.order?.id);
      const again = await orders().createOrder(req);
      assert.equal(again.order?.id, a.order?.id);
      assert.match(
        await code(orders().createOrder({ ...req, quantity: 5 })),
        /^FailedPrecondition: idempotency_key/,
      );
      assert.equal(
        await code(orders().createOrder({ ...req, userId: "00000000-0000-7000-8000-000000000001" })),
        "NotFound: user 00000000-0000-7000-8000-000000000001 not found",
      );
      assert.match(await code(orders().createOrder({ ...req, quantity: 0 })), /^InvalidArgument: quantity/);
      const listed = await collect(orders().listOrders({ userId }));
      assert.equal(listed.length, 1);
    });
  });
}

test("racing identical CreateOrder requests create one order", { timeout: 60_000 }, async () => {
  const userId = await newUser("race");
  const orders = clientFor(OrderService, server.url, "grpc");
  for (let round = 0; round < 10; round++) {
    const req = { userId, productId: "sku", quantity: 1, idempotencyKey: `race-${round}` };
    const results = await Promise.all(Array.from({ length: 8 }, () => orders.createOrder(req)));
    assert.equal(new Set(results.map((r) => r.order?.id)).size, 1);
  }
  assert.equal((await collect(orders.listOrders({ userId }))).length, 10);
});

test("ListOrders filters by user and status and pages by id", async () => {
  const userId = await newUser("list");
  const orders = clientFor(OrderService, server.url, "connect-json");
  const ids: string[] = [];
  for (let i = 0; i < 7; i++) {
    const { order } = await orders.createOrder({
      userId,
      productId: `p${i}`,
      quantity: 1,
      idempotencyKey: `l${i}`,
    });
    ids.push(order?.id ?? "");
  }
  for (const id of ids.slice(0, 3)) await orders.updateOrderStatus({ id, status: OrderStatus.PAID });
  const all = await collect(orders.listOrders({ userId, pageSize: 2 }));
  assert.deepEqual(
    all.map((r) => r.order?.id),
    ids,
  );
  const paid = await collect(orders.listOrders({ userId, status: OrderStatus.PAID, pageSize: 2 }));
  assert.deepEqual(
    paid.map((r) => r.order?.id),
    ids.slice(0, 3),
  );
  const rest = await collect(orders.listOrders({ userId, after: ids[4] }));
  assert.deepEqual(
    rest.map((r) => r.order?.id),
    ids.slice(5),
  );
});

test("StreamOrders replays after a cursor, then follows live changes, filtered by user", {
  timeout: 30_000,
}, async () => {
  const mine = await newUser("stream-mine");
  const other = await newUser("stream-other");
  const orders = clientFor(OrderService, server.url, "grpc");
  const { order: first } = await orders.createOrder({
    userId: mine,
    productId: "a",
    quantity: 1,
    idempotencyKey: "s1",
  });
  await orders.createOrder({ userId: other, productId: "b", quantity: 1, idempotencyKey: "s2" });

  const abort = new AbortController();
  const seen: OrderEvent[] = [];
  const reading = (async () => {
    for await (const res of orders.streamOrders({ userId: mine }, { signal: abort.signal })) {
      if (res.event) seen.push(res.event);
      if (seen.length === 3) abort.abort();
    }
  })().catch((err: unknown) => {
    if (ConnectError.from(err).code !== Code.Canceled) throw err;
  });
  while (seen.length < 1) await new Promise((r) => setTimeout(r, 10));
  await orders.createOrder({ userId: other, productId: "c", quantity: 1, idempotencyKey: "s3" });
  await orders.updateOrderStatus({ id: first?.id ?? "", status: OrderStatus.PAID });
  await orders.createOrder({ userId: mine, productId: "d", quantity: 1, idempotencyKey: "s4" });
  await reading;
  assert.deepEqual(
    seen.map((e) => [OrderEventType[e.type], e.order?.userId === mine, e.order?.productId]),
    [
      ["CREATED", true, "a"],
      ["STATUS_CHANGED", true, "a"],
      ["CREATED", true, "d"],
    ],
  );
  assert.ok(seen.every((e, i) => i === 0 || e.sequence > (seen[i - 1]?.sequence ?? 0n)));

  // Resuming after the first event's sequence gives exactly the rest.
  const resumed: OrderEvent[] = [];
  const again = new AbortController();
  await (async () => {
    for await (const res of orders.streamOrders(
      { userId: mine, afterSequence: seen[0]?.sequence ?? 0n },
      { signal: again.signal },
    )) {
      if (res.event) resumed.push(res.event);
      if (resumed.length === 2) again.abort();
    }
  })().catch(() => {});
  assert.deepEqual(
    resumed.map((e) => e.sequence),
    seen.slice(1).map((e) => e.sequence),
  );
});

test("a status change notifies the order's user; SendNotification reaches subscribers", {
  timeout: 30_000,
}, async () => {
  const userId = await newUser("notify");
  const orders = clientFor(OrderService, server.url, "grpc");
  const notifications = clientFor(NotificationService, server.url, "grpc-web");
  const abort = new AbortController();
  const titles: string[] = [];
  const sequences: bigint[] = [];
  const reading = (async () => {
    for await (const res of notifications.subscribeNotifications({ userId }, { signal: abort.signal })) {
      titles.push(res.notification?.title ?? "");
      sequences.push(res.notification?.sequence ?? 0n);
      if (titles.length === 3) abort.abort();
    }
  })().catch(() => {});
  const { order } = await orders.createOrder({ userId, productId: "n", quantity: 1, idempotencyKey: "n1" });
  await orders.updateOrderStatus({ id: order?.id ?? "", status: OrderStatus.PAID });
  await orders.updateOrderStatus({ id: order?.id ?? "", status: OrderStatus.CANCELLED });
  const sent = await notifications.sendNotification({ userId, title: "Hello", body: "Welcome" });
  assert.equal(sent.notification?.sequence, 3n);
  await reading;
  assert.deepEqual(titles, ["Order paid", "Order cancelled", "Hello"]);
  assert.deepEqual(sequences, [1n, 2n, 3n]);
  assert.match(
    await code(notifications.sendNotification({ userId: randomUUID(), title: "x", body: "" })),
    /^NotFound/,
  );
  assert.match(
    await code(notifications.sendNotification({ userId, title: "", body: "" })),
    /^InvalidArgument: title/,
  );
  // Streams for a user that does not exist are NOT_FOUND, as the unary calls are, and a cursor
  // from beyond the end is OUT_OF_RANGE rather than a stream that silently misses everything.
  const first = async (stream: AsyncIterable<unknown>) => {
    for await (const _ of stream) return;
  };
  assert.match(
    await code(first(notifications.subscribeNotifications({ userId: randomUUID() }))),
    /^NotFound/,
  );
  assert.match(await code(first(orders.streamOrders({ userId: randomUUID() }))), /^NotFound/);
  assert.match(await code(first(orders.streamOrders({ userId, afterSequence: 1_000_000n }))), /^OutOfRange/);
});
