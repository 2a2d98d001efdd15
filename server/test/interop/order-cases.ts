// The OrderService and NotificationService cases of the matrix, written once. buf curl and
// grpc-js run them through an RpcClient (rpc-client.ts); Python grpcio runs the same steps in
// python/order_cases.py and prints the same outcomes. Every client's outcomes are checked by
// the assertions here, so each RPC means the same thing in every row of the matrix.
//
// StreamOrders and SubscribeNotifications never end by themselves: the cases replay what
// happened before the call, have a second client make a change while the stream is open, read
// exactly the messages that must come, cancel, and then resume from a sequence they received.
import assert from "node:assert/strict";
import type { TestServer } from "../support/test-server.ts";
import type { matrixFor } from "./matrix.ts";
import { camelKeys, type Json, type RpcClient, rpcFailure } from "./rpc-client.ts";

const orderService = "switchboard.v1.OrderService";
const notificationService = "switchboard.v1.NotificationService";

/** The RPCs of the rpcs table (its columns, in this order) and their procedures. */
export const procedures = {
  CreateOrder: `${orderService}/CreateOrder`,
  GetOrder: `${orderService}/GetOrder`,
  ListOrders: `${orderService}/ListOrders`,
  UpdateOrderStatus: `${orderService}/UpdateOrderStatus`,
  StreamOrders: `${orderService}/StreamOrders`,
  SendNotification: `${notificationService}/SendNotification`,
  SubscribeNotifications: `${notificationService}/SubscribeNotifications`,
} as const;
export type OrderRpc = keyof typeof procedures;
export const orderRpcs = Object.keys(procedures) as OrderRpc[];
/** The RPCs whose streams follow live events until the client cancels them. */
export const liveRpcs: readonly OrderRpc[] = ["StreamOrders", "SubscribeNotifications"];
/** A well-formed id that names nothing. */
export const unknownId = "01890000-0000-7000-8000-000000000000";
/** What every order of the cases is for (python/order_cases.py uses the same values). */
const item = { product_id: "sku-42", quantity: 2 };
const uuidV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

// Messages as proto3 JSON names them. Timestamps are left alone: protojson clients print
// strings, grpc-js { seconds, nanos }; they are only compared between answers of one client.
export interface Order {
  id: string;
  userId: string;
  productId: string;
  quantity: number;
  status: string;
  idempotencyKey: string;
  version: string;
  createTime: unknown;
  updateTime: unknown;
}
export interface OrderEvent {
  sequence: string;
  type: string;
  order: Order;
}
export interface Notification {
  id: string;
  userId: string;
  title: string;
  body: string;
  sequence: string;
  createTime: unknown;
}
export interface Failure {
  code: string;
  message: string;
}

/** What each case reports; python/order_cases.py prints the same keys in snake_case. */
export interface Outcomes {
  CreateOrder: { userId: string; first: Order; again: Order; keyReused: Failure; unknownUser: Failure };
  GetOrder: { created: Order; got: Order; missing: Failure };
  ListOrders: { orders: Order[]; all: Order[]; paid: Order[]; afterFirst: Order[] };
  UpdateOrderStatus: { created: Order; paid: Order; illegal: Failure; stale: Failure; after: Order };
  StreamOrders: {
    userId: string;
    created: Order;
    paid: Order;
    /** The order another client placed while the stream was open. */
    live: Order;
    events: OrderEvent[];
    resumed: OrderEvent[];
  };
  SendNotification: { userId: string; first: Notification; second: Notification; unknownUser: Failure };
  SubscribeNotifications: {
    userId: string;
    order: Order;
    sent: Notification;
    notices: Notification[];
    resumed: Notification[];
  };
}

/** The client under test, and another one that changes things while its stream is open. */
export interface CaseClients {
  client: RpcClient;
  other: RpcClient;
}

async function newUser(c: RpcClient, email: string): Promise<string> {
  const { user } = (await c.unary("switchboard.v1.UserService/CreateUser", {
    name: "Orderer",
    email,
    age: 30,
  })) as { user: { id: string } };
  return user.id;
}

async function createOrder(c: RpcClient, userId: string, key: string, quantity = item.quantity) {
  const { order } = await c.unary(procedures.CreateOrder, {
    ...item,
    user_id: userId,
    quantity,
    idempotency_key: key,
  });
  return order as Order;
}

async function setStatus(c: RpcClient, id: string, status: string, expectedVersion?: string) {
  const { order } = await c.unary(procedures.UpdateOrderStatus, {
    id,
    status: `ORDER_STATUS_${status}`,
    ...(expectedVersion ? { expected_version: expectedVersion } : {}),
  });
  return order as Order;
}

async function getOrder(c: RpcClient, id: string) {
  return (await c.unary(procedures.GetOrder, { id })).order as Order;
}

async function listOrders(c: RpcClient, request: Json) {
  return (await c.serverStream(procedures.ListOrders, request)).map((m) => m.order as Order);
}

/**
 * Reads `take` messages of a live stream, then cancels it. `onMessage(i)` runs once message i
 * is in, while the stream stays open.
 */
async function readLive(
  c: RpcClient,
  procedure: string,
  request: Json,
  take: number,
  onMessage?: (i: number) => Promise<void>,
) {
  return c.serverStream(procedure, request, {
    take,
    ...(onMessage ? { onMessage: (_: Json, i: number) => onMessage(i) } : {}),
  });
}

async function streamOrders(
  c: RpcClient,
  request: Json,
  take: number,
  onMessage?: (i: number) => Promise<void>,
) {
  const messages = await readLive(c, procedures.StreamOrders, request, take, onMessage);
  return messages.map((m) => m.event as OrderEvent);
}

async function sendNotification(c: RpcClient, userId: string, title: string, body: string) {
  const { notification } = await c.unary(procedures.SendNotification, {
    user_id: userId,
    title,
    body,
  });
  return notification as Notification;
}

async function subscribe(
  c: RpcClient,
  request: Json,
  take: number,
  onMessage?: (i: number) => Promise<void>,
) {
  const messages = await readLive(c, procedures.SubscribeNotifications, request, take, onMessage);
  return messages.map((m) => m.notification as Notification);
}

/** Each case, run through an RpcClient; `tag` keeps this row's emails apart from other rows'. */
const run: { [R in OrderRpc]: (c: CaseClients, tag: string) => Promise<Outcomes[R]> } = {
  async CreateOrder({ client }, tag) {
    const userId = await newUser(client, `create-order@${tag}.example`);
    const first = await createOrder(client, userId, "key-1");
    const again = await createOrder(client, userId, "key-1");
    const keyReused = await rpcFailure(createOrder(client, userId, "key-1", item.quantity + 1));
    const unknownUser = await rpcFailure(createOrder(client, unknownId, "key-1"));
    return { userId, first, again, keyReused, unknownUser };
  },

  async GetOrder({ client }, tag) {
    const userId = await newUser(client, `get-order@${tag}.example`);
    const created = await createOrder(client, userId, "key-1");
    const got = await getOrder(client, created.id);
    const missing = await rpcFailure(getOrder(client, unknownId));
    return { created, got, missing };
  },

  async ListOrders({ client }, tag) {
    const userId = await newUser(client, `list-orders@${tag}.example`);
    const created = [];
    for (const key of ["key-1", "key-2", "key-3"]) created.push(await createOrder(client, userId, key));
    const [first, second, third] = created as [Order, Order, Order];
    const orders = [first, await setStatus(client, second.id, "PAID"), third];
    return {
      orders,
      // Two per page: the server pages through three orders in one stream.
      all: await listOrders(client, { user_id: userId, page_size: 2 }),
      paid: await listOrders(client, { user_id: userId, status: "ORDER_STATUS_PAID" }),
      afterFirst: await listOrders(client, { user_id: userId, after: first.id }),
    };
  },

  async UpdateOrderStatus({ client }, tag) {
    const userId = await newUser(client, `update-order@${tag}.example`);
    const created = await createOrder(client, userId, "key-1");
    const paid = await setStatus(client, created.id, "PAID");
    const illegal = await rpcFailure(setStatus(client, created.id, "DELIVERED"));
    const stale = await rpcFailure(setStatus(client, created.id, "SHIPPED", created.version));
    const after = await getOrder(client, created.id);
    return { created, paid, illegal, stale, after };
  },

  async StreamOrders({ client, other }, tag) {
    const userId = await newUser(client, `stream-orders@${tag}.example`);
    const created = await createOrder(client, userId, "key-1");
    const paid = await setStatus(client, created.id, "PAID");
    // Two events to replay; once both are in, the other client places an order, whose event
    // this open stream must then receive live.
    let live: Order | undefined;
    const events = await streamOrders(client, { user_id: userId, after_sequence: "0" }, 3, async (i) => {
      if (i === 1) live = await createOrder(other, userId, "key-2");
    });
    assert.ok(live, "the other client placed its order");
    // Resuming after the second event gives the third again, and nothing else.
    const resumed = await streamOrders(
      client,
      { user_id: userId, after_sequence: events[1]?.sequence ?? "0" },
      1,
    );
    return { userId, created, paid, live, events, resumed };
  },

  async SendNotification({ client }, tag) {
    const userId = await newUser(client, `send-notification@${tag}.example`);
    const first = await sendNotification(client, userId, "Hello", "First notice");
    const second = await sendNotification(client, userId, "Again", "Second notice");
    const unknownUser = await rpcFailure(sendNotification(client, unknownId, "Hello", "Nobody"));
    return { userId, first, second, unknownUser };
  },

  async SubscribeNotifications({ client, other }, tag) {
    const userId = await newUser(client, `subscribe@${tag}.example`);
    const sent = await sendNotification(client, userId, "Welcome", "Subscribed");
    const order = await createOrder(client, userId, "key-1");
    // Once the stored notice is replayed, the other client pays the order: its user is notified.
    const notices = await subscribe(client, { user_id: userId, after_sequence: "0" }, 2, async (i) => {
      if (i === 0) await setStatus(other, order.id, "PAID");
    });
    const resumed = await subscribe(
      client,
      { user_id: userId, after_sequence: notices[0]?.sequence ?? "0" },
      1,
    );
    return { userId, order, sent, notices, resumed };
  },
};

function assertOrder(order: Order | undefined, expected: Partial<Order>): void {
  assert.ok(order, "an order");
  assert.match(order.id, uuidV7);
  assert.partialDeepStrictEqual(order, { productId: item.product_id, ...expected });
}

/** The assertions on each case's outcome, whichever client produced it. */
const check: { [R in OrderRpc]: (o: Outcomes[R]) => void } = {
  CreateOrder(o) {
    assertOrder(o.first, {
      userId: o.userId,
      quantity: item.quantity,
      status: "ORDER_STATUS_PENDING",
      idempotencyKey: "key-1",
      version: "1",
    });
    assert.deepEqual(o.again, o.first, "the same idempotency_key gives back the same order");
    assert.equal(o.keyReused.code, "failed_precondition", o.keyReused.message);
    assert.ok(o.keyReused.message.includes(o.first.id), `names the first order: ${o.keyReused.message}`);
    assert.equal(o.unknownUser.code, "not_found", o.unknownUser.message);
    assert.ok(o.unknownUser.message.includes(unknownId), o.unknownUser.message);
  },

  GetOrder(o) {
    assertOrder(o.created, { status: "ORDER_STATUS_PENDING", version: "1" });
    assert.deepEqual(o.got, o.created);
    assert.equal(o.missing.code, "not_found", o.missing.message);
    assert.ok(o.missing.message.includes(unknownId), o.missing.message);
  },

  ListOrders(o) {
    assert.deepEqual(
      o.orders.map((x) => x.status),
      ["ORDER_STATUS_PENDING", "ORDER_STATUS_PAID", "ORDER_STATUS_PENDING"],
    );
    assert.deepEqual(o.all, o.orders, "every order of the user, oldest first, as they are now");
    assert.deepEqual(o.paid, [o.orders[1]], "only the PAID one");
    assert.deepEqual(o.afterFirst, o.orders.slice(1), "the ones after the cursor");
  },

  UpdateOrderStatus(o) {
    assertOrder(o.paid, { id: o.created.id, status: "ORDER_STATUS_PAID", version: "2" });
    assert.equal(o.illegal.code, "failed_precondition", o.illegal.message);
    assert.match(o.illegal.message, /\bPAID\b.*\bDELIVERED\b/, "names where it is and where it cannot go");
    assert.equal(o.stale.code, "aborted", `expected_version 1 at version 2: ${o.stale.message}`);
    assert.deepEqual(o.after, o.paid, "the refused moves changed nothing");
  },

  StreamOrders(o) {
    assert.deepEqual(
      o.events.map((e) => e.type),
      ["ORDER_EVENT_TYPE_CREATED", "ORDER_EVENT_TYPE_STATUS_CHANGED", "ORDER_EVENT_TYPE_CREATED"],
    );
    const [created, paid, live] = o.events as [OrderEvent, OrderEvent, OrderEvent];
    assert.deepEqual(created.order, o.created);
    assert.deepEqual(paid.order, o.paid);
    assertOrder(live.order, { id: o.live.id, userId: o.userId, status: "ORDER_STATUS_PENDING" });
    const sequences = o.events.map((e) => Number(e.sequence));
    assert.ok(
      sequences.every((s, i) => s > (sequences[i - 1] ?? 0)),
      `sequences rise: ${sequences.join(", ")}`,
    );
    assert.deepEqual(o.resumed, [live], "resuming after the second event gives the third");
  },

  SendNotification(o) {
    assert.partialDeepStrictEqual(o.first, {
      userId: o.userId,
      title: "Hello",
      body: "First notice",
      sequence: "1",
    });
    assert.partialDeepStrictEqual(o.second, { userId: o.userId, title: "Again", sequence: "2" });
    assert.match(o.first.id, uuidV7);
    assert.notEqual(o.second.id, o.first.id);
    assert.equal(o.unknownUser.code, "not_found", o.unknownUser.message);
  },

  SubscribeNotifications(o) {
    assert.equal(o.notices.length, 2, `notices: ${JSON.stringify(o.notices)}`);
    const [sent, paid] = o.notices as [Notification, Notification];
    assert.deepEqual(sent, o.sent, "the stored notice, replayed");
    assert.partialDeepStrictEqual(paid, { userId: o.userId, sequence: "2" });
    assert.match(paid.title, /paid/i);
    assert.match(paid.body, /\bPAID\b/);
    assert.ok(paid.body.includes(item.product_id), paid.body);
    assert.deepEqual(o.resumed, [paid], "resuming after the first notice gives the second");
  },
};

/** Checks an outcome printed by another program (snake_case keys are fine). */
export function checkOutcome(rpc: OrderRpc, outcome: unknown): void {
  check[rpc](camelKeys(outcome) as never);
}

/** Live streams this server holds open (bus subscriptions). */
export function liveSubscriptions(server: TestServer): number {
  return server.ctx.bus.subscriptionCount();
}

/** Waits until the server holds `count` live subscriptions: the streams clients left are gone. */
export async function assertSubscriptionsBackTo(server: TestServer, count: number): Promise<void> {
  const until = Date.now() + 3000;
  while (liveSubscriptions(server) !== count && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.equal(liveSubscriptions(server), count, "every live stream the client left has ended on the server");
}

/**
 * The cells of one client row of the rpcs table: each runs its case through `clients()` and
 * checks the outcome; after a live stream case, the server must have ended every stream the
 * client cancelled.
 */
export function orderCells(
  cell: ReturnType<typeof matrixFor>["cell"],
  row: string,
  tag: string,
  setup: () => { server: TestServer; clients: CaseClients },
): void {
  for (const rpc of orderRpcs) {
    cell({ table: "rpcs", row, column: rpc }, async () => {
      const { server, clients } = setup();
      const before = liveSubscriptions(server);
      const outcome = await run[rpc](clients, tag);
      check[rpc](outcome as never);
      if (liveRpcs.includes(rpc)) await assertSubscriptionsBackTo(server, before);
    });
  }
}
