// Authorization, rule by rule, over Connect and gRPC (every protocol for the order IDOR):
// another user's rows read as absent, request fields that name a user may name only the
// caller, admin-only methods and fields stay admin-only, chat senders cannot be spoofed.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { Code } from "@connectrpc/connect";
import { sql } from "drizzle-orm";
import { AuthService } from "../../../gen/switchboard/v1/auth_pb.js";
import { type ChatMessage, ChatService } from "../../../gen/switchboard/v1/chat_pb.js";
import { NotificationService } from "../../../gen/switchboard/v1/notification_pb.js";
import { type Order, OrderService, OrderStatus } from "../../../gen/switchboard/v1/order_pb.js";
import { Role, UserService } from "../../../gen/switchboard/v1/user_pb.js";
import { createSignedInUser, type SignedInUser, testAdminToken } from "../support/auth.ts";
import { clientFor, collect, type ProtocolName, protocolNames, streamOf } from "../support/clients.ts";
import { startTestServer, type TestServer } from "../support/test-server.ts";
import { expectCode, firstOf, queryRows } from "./support.ts";

/** Unary and server-streaming rules: Connect (JSON over HTTP/1.1) and gRPC. */
const connectAndGrpc: ProtocolName[] = ["connect-json", "grpc"];
/** Bidi streams need HTTP/2: Connect over h2c, and gRPC. */
const bidiProtocols: ProtocolName[] = ["connect-binary-h2c", "grpc"];

let server: TestServer;
let alice: SignedInUser;
let bob: SignedInUser;
let bobOrder: Order;
let aliceOrder: Order;

const newKey = () => randomUUID();

async function orderOf(user: SignedInUser, productId: string): Promise<Order> {
  const { order } = await clientFor(OrderService, server.url, "grpc", user.token).createOrder({
    productId,
    quantity: 1,
    idempotencyKey: newKey(),
  });
  assert.ok(order);
  return order;
}

/** Reads a live stream until `done` says the last wanted item has come, then cancels it. */
async function readUntil<T>(
  open: (signal: AbortSignal) => AsyncIterable<T>,
  done: (item: T) => boolean,
): Promise<T[]> {
  const abort = new AbortController();
  const seen: T[] = [];
  try {
    for await (const item of open(abort.signal)) {
      seen.push(item);
      if (done(item)) break;
    }
  } finally {
    abort.abort();
  }
  return seen;
}

before(async () => {
  server = await startTestServer();
  [alice, bob] = await Promise.all([
    createSignedInUser(server.url, { name: "Alice" }),
    createSignedInUser(server.url, { name: "Bob" }),
  ]);
  [aliceOrder, bobOrder] = await Promise.all([orderOf(alice, "alice-widget"), orderOf(bob, "bob-widget")]);
});
after(async () => {
  await server?.close();
});

describe("orders", () => {
  for (const protocol of protocolNames) {
    test(`IDOR over ${protocol}: another user's order is NOT_FOUND, like one that does not exist, and stays unchanged`, async () => {
      const orders = clientFor(OrderService, server.url, protocol, alice.token);
      const missing = randomUUID();
      const theirs = await expectCode(orders.getOrder({ id: bobOrder.id }), Code.NotFound, "GetOrder");
      const none = await expectCode(orders.getOrder({ id: missing }), Code.NotFound, "GetOrder of no order");
      assert.equal(
        theirs.rawMessage.replace(bobOrder.id, "<id>"),
        none.rawMessage.replace(missing, "<id>"),
        "the answer does not tell an existing order from a missing one",
      );
      for (const status of [OrderStatus.PAID, OrderStatus.CANCELLED]) {
        await expectCode(
          orders.updateOrderStatus({ id: bobOrder.id, status }),
          Code.NotFound,
          `UpdateOrderStatus to ${OrderStatus[status]}`,
        );
      }
      const { order } = await clientFor(OrderService, server.url, "grpc").getOrder({ id: bobOrder.id });
      assert.equal(order?.status, OrderStatus.PENDING);
      assert.equal(order?.version, bobOrder.version);
      assert.equal(order?.userId, bob.user.id);
    });
  }

  for (const protocol of connectAndGrpc) {
    test(`over ${protocol}: order calls naming another user_id are PERMISSION_DENIED, naming oneself works`, async () => {
      const orders = clientFor(OrderService, server.url, protocol, alice.token);
      const notifications = clientFor(NotificationService, server.url, protocol, alice.token);
      const admin = clientFor(OrderService, server.url, "grpc");
      const bobsBefore = (await collect(admin.listOrders({ userId: bob.user.id }))).length;

      await expectCode(
        orders.createOrder({
          userId: bob.user.id,
          productId: "on-bob",
          quantity: 1,
          idempotencyKey: newKey(),
        }),
        Code.PermissionDenied,
        "CreateOrder for another user",
      );
      await expectCode(
        collect(orders.listOrders({ userId: bob.user.id })),
        Code.PermissionDenied,
        "ListOrders",
      );
      await expectCode(
        firstOf(orders.streamOrders({ userId: bob.user.id })),
        Code.PermissionDenied,
        "StreamOrders",
      );
      await expectCode(
        firstOf(notifications.subscribeNotifications({ userId: bob.user.id })),
        Code.PermissionDenied,
        "SubscribeNotifications",
      );
      assert.equal(
        (await collect(admin.listOrders({ userId: bob.user.id }))).length,
        bobsBefore,
        "no order made",
      );

      const { order } = await orders.createOrder({
        userId: alice.user.id,
        productId: "own",
        quantity: 1,
        idempotencyKey: newKey(),
      });
      assert.equal(order?.userId, alice.user.id);
      const mine = await collect(orders.listOrders({ userId: alice.user.id }));
      assert.ok(mine.some((r) => r.order?.id === order?.id));
    });

    test(`over ${protocol}: ListOrders and StreamOrders without user_id carry only the caller's orders; an admin sees everyone's`, async () => {
      const asAlice = clientFor(OrderService, server.url, protocol, alice.token);
      const listed = await collect(asAlice.listOrders({}));
      assert.ok(listed.length > 0);
      assert.ok(
        listed.every((r) => r.order?.userId === alice.user.id),
        "only Alice's orders",
      );
      assert.ok(listed.some((r) => r.order?.id === aliceOrder.id));

      const asAdmin = clientFor(OrderService, server.url, protocol);
      const all = await collect(asAdmin.listOrders({}));
      assert.ok(
        all.some((r) => r.order?.id === bobOrder.id) && all.some((r) => r.order?.id === aliceOrder.id),
      );

      // Every event from the start, up to an order made now: anything of Bob's would come before it.
      const sentinel = await orderOf(alice, `sentinel-${protocol}`);
      const isSentinel = (r: { event?: { order?: Order } }) => r.event?.order?.id === sentinel.id;
      const aliceEvents = await readUntil((signal) => asAlice.streamOrders({}, { signal }), isSentinel);
      assert.ok(
        aliceEvents.every((r) => r.event?.order?.userId === alice.user.id),
        "only Alice's events",
      );
      assert.ok(aliceEvents.some((r) => r.event?.order?.id === aliceOrder.id));
      const adminEvents = await readUntil((signal) => asAdmin.streamOrders({}, { signal }), isSentinel);
      assert.ok(
        adminEvents.some((r) => r.event?.order?.id === bobOrder.id),
        "the admin sees Bob's",
      );
    });

    test(`over ${protocol}: a user may pay for or cancel their own order, not ship or deliver it`, async () => {
      const orders = clientFor(OrderService, server.url, protocol, alice.token);
      const toPay = await orderOf(alice, "to-pay");
      const toCancel = await orderOf(alice, "to-cancel");
      const paid = await orders.updateOrderStatus({ id: toPay.id, status: OrderStatus.PAID });
      assert.equal(paid.order?.status, OrderStatus.PAID);
      for (const status of [OrderStatus.SHIPPED, OrderStatus.DELIVERED]) {
        await expectCode(
          orders.updateOrderStatus({ id: toPay.id, status }),
          Code.PermissionDenied,
          `a user marking their order ${OrderStatus[status]}`,
        );
      }
      const admin = clientFor(OrderService, server.url, "grpc");
      assert.equal((await admin.getOrder({ id: toPay.id })).order?.status, OrderStatus.PAID, "still PAID");
      const cancelled = await orders.updateOrderStatus({ id: toCancel.id, status: OrderStatus.CANCELLED });
      assert.equal(cancelled.order?.status, OrderStatus.CANCELLED);
      const shipped = await admin.updateOrderStatus({ id: toPay.id, status: OrderStatus.SHIPPED });
      assert.equal(shipped.order?.status, OrderStatus.SHIPPED, "an admin may ship it");
    });
  }
});

describe("users", () => {
  for (const protocol of connectAndGrpc) {
    test(`over ${protocol}: GetUser, UpdateUser and DeleteUser of another user are NOT_FOUND and change nothing`, async () => {
      const users = clientFor(UserService, server.url, protocol, alice.token);
      const missing = randomUUID();
      const theirs = await expectCode(users.getUser({ id: bob.user.id }), Code.NotFound, "GetUser");
      const none = await expectCode(users.getUser({ id: missing }), Code.NotFound, "GetUser of nobody");
      assert.equal(theirs.rawMessage.replace(bob.user.id, "<id>"), none.rawMessage.replace(missing, "<id>"));
      await expectCode(
        users.updateUser({ user: { id: bob.user.id, name: "Pwned" }, updateMask: { paths: ["name"] } }),
        Code.NotFound,
        "UpdateUser",
      );
      await expectCode(users.deleteUser({ id: bob.user.id }), Code.NotFound, "DeleteUser");

      const { user } = await clientFor(UserService, server.url, "grpc").getUser({ id: bob.user.id });
      assert.equal(user?.name, "Bob");
      assert.equal(user?.version, bob.user.version);
      // Bob's session still works: he was not deleted.
      await clientFor(UserService, server.url, "grpc", bob.token).getUser({ id: bob.user.id });
      // Alice may read and change herself.
      assert.equal((await users.getUser({ id: alice.user.id })).user?.id, alice.user.id);
    });

    test(`over ${protocol}: ListUsers as a user lists only themselves`, async () => {
      const listed = await collect(clientFor(UserService, server.url, protocol, alice.token).listUsers({}));
      assert.deepEqual(
        listed.map((r) => r.user?.id),
        [alice.user.id],
      );
      const filtered = await collect(
        clientFor(UserService, server.url, protocol, alice.token).listUsers({ query: bob.user.email }),
      );
      assert.deepEqual(filtered, [], "searching for someone else finds nobody");
      const all = await collect(clientFor(UserService, server.url, protocol).listUsers({}));
      const ids = new Set(all.map((r) => r.user?.id));
      assert.ok(ids.has(alice.user.id) && ids.has(bob.user.id), "an admin lists everyone");
    });

    test(`over ${protocol}: a user cannot set their own role (mass assignment); an admin can, and it takes effect on the user's token at once`, async () => {
      const carol = await createSignedInUser(server.url, { name: `Carol ${protocol}` });
      const asCarol = clientFor(UserService, server.url, protocol, carol.token);
      await expectCode(
        asCarol.updateUser({
          user: { id: carol.user.id, role: Role.ADMIN },
          updateMask: { paths: ["role"] },
        }),
        Code.PermissionDenied,
        "a user promoting themselves",
      );
      await expectCode(
        asCarol.updateUser({
          user: { id: carol.user.id, name: "Carol", role: Role.ADMIN },
          updateMask: { paths: ["name", "role"] },
        }),
        Code.PermissionDenied,
        "role hidden among other paths",
      );
      const admin = clientFor(UserService, server.url, "grpc");
      assert.equal((await admin.getUser({ id: carol.user.id })).user?.role, Role.USER, "role unchanged");
      // She may change what is hers to change.
      const renamed = await asCarol.updateUser({
        user: { id: carol.user.id, name: "Caroline" },
        updateMask: { paths: ["name"] },
      });
      assert.equal(renamed.user?.role, Role.USER);
      await expectCode(asCarol.getUser({ id: bob.user.id }), Code.NotFound, "before promotion");

      await admin.updateUser({
        user: { id: carol.user.id, role: Role.ADMIN },
        updateMask: { paths: ["role"] },
      });
      // The same token, issued while she was a user, now acts as an admin.
      assert.equal((await asCarol.getUser({ id: bob.user.id })).user?.id, bob.user.id);
      const session = await clientFor(AuthService, server.url, protocol, carol.token).getSession({});
      assert.equal(session.role, Role.ADMIN);
      const made = await asCarol.createUser({
        name: "By Carol",
        email: `by-carol-${randomUUID()}@example.com`,
        age: 3,
      });
      assert.ok(made.user?.id);

      // A stream she opened as an admin ends ABORTED when she is demoted (opened again, it
      // gets what a user may see).
      const room = `demoted-${protocol}-${randomUUID().slice(0, 8)}`;
      const asCarolChat = clientFor(ChatService, server.url, protocol, carol.token);
      const live = asCarolChat.subscribe({ room, afterSequence: 0n })[Symbol.asyncIterator]();
      await asCarolChat.sendMessage({ room, content: "as an admin" });
      assert.equal((await live.next()).value?.message?.content, "as an admin");

      // And demoted, the token is a user's again.
      await admin.updateUser({
        user: { id: carol.user.id, role: Role.USER },
        updateMask: { paths: ["role"] },
      });
      await expectCode(live.next(), Code.Aborted, "a stream opened before the demotion");
      await expectCode(asCarol.getUser({ id: bob.user.id }), Code.NotFound, "after demotion");
      await expectCode(
        asCarol.createUser({ name: "Again", email: `again-${randomUUID()}@example.com`, age: 3 }),
        Code.PermissionDenied,
        "CreateUser after demotion",
      );
    });

    test(`over ${protocol}: CreateUser, BatchCreateUsers and SendNotification are PERMISSION_DENIED for a user and create nothing`, async () => {
      const users = clientFor(UserService, server.url, protocol, alice.token);
      const email = `not-created-${randomUUID()}@example.com`;
      await expectCode(
        users.createUser({ name: "Sneaky", email, age: 30, role: Role.ADMIN, password: "password-123" }),
        Code.PermissionDenied,
        "CreateUser",
      );
      const batchEmail = `not-batched-${randomUUID()}@example.com`;
      await expectCode(
        users.batchCreateUsers(streamOf([{ name: "Sneaky", email: batchEmail, age: 30 }])),
        Code.PermissionDenied,
        "BatchCreateUsers",
      );
      const title = `not-sent-${randomUUID()}`;
      await expectCode(
        clientFor(NotificationService, server.url, protocol, alice.token).sendNotification({
          userId: alice.user.id,
          title,
          body: "self-service",
        }),
        Code.PermissionDenied,
        "SendNotification",
      );
      const admin = clientFor(UserService, server.url, "grpc");
      assert.deepEqual(await collect(admin.listUsers({ query: email })), []);
      assert.deepEqual(await collect(admin.listUsers({ query: batchEmail })), []);
      const sent = await queryRows<{ n: unknown }>(
        server,
        sql`select count(*) as n from notifications where title = ${title}`,
      );
      assert.equal(Number(sent[0]?.n), 0);
    });
  }

  for (const protocol of bidiProtocols) {
    test(`over ${protocol}: UserStream answers a user's create with PERMISSION_DENIED in band, and keeps serving the stream`, async () => {
      const email = `stream-create-${randomUUID()}@example.com`;
      const answers = await collect(
        clientFor(UserService, server.url, protocol, alice.token).userStream(
          streamOf([
            { requestId: "create", operation: { case: "create", value: { name: "X", email, age: 3 } } },
            { requestId: "self", operation: { case: "get", value: { id: alice.user.id } } },
            { requestId: "bob", operation: { case: "get", value: { id: bob.user.id } } },
            {
              requestId: "promote",
              operation: {
                case: "update",
                value: { user: { id: alice.user.id, role: Role.ADMIN }, updateMask: { paths: ["role"] } },
              },
            },
            { requestId: "delete-bob", operation: { case: "delete", value: { id: bob.user.id } } },
          ]),
        ),
      );
      const byId = new Map(answers.map((a) => [a.requestId, a.result]));
      const codeOf = (id: string) => {
        const r = byId.get(id);
        return r?.case === "error" ? r.value.code : undefined;
      };
      assert.equal(codeOf("create"), Code.PermissionDenied);
      const self = byId.get("self");
      assert.equal(self?.case === "user" ? self.value.id : undefined, alice.user.id);
      assert.equal(codeOf("bob"), Code.NotFound);
      assert.equal(codeOf("promote"), Code.PermissionDenied);
      assert.equal(codeOf("delete-bob"), Code.NotFound);
      const admin = clientFor(UserService, server.url, "grpc");
      assert.deepEqual(await collect(admin.listUsers({ query: email })), [], "nothing created");
      assert.equal((await admin.getUser({ id: alice.user.id })).user?.role, Role.USER);
      assert.ok((await admin.getUser({ id: bob.user.id })).user, "Bob still exists");
    });
  }
});

describe("chat", () => {
  /** A room's whole history up to the message `last`, as a third user reads it. */
  async function history(room: string, last: string): Promise<ChatMessage[]> {
    const reader = clientFor(ChatService, server.url, "grpc", bob.token);
    const seen = await readUntil(
      (signal) => reader.subscribe({ room, afterSequence: 0n }, { signal }),
      (r) => r.message?.content === last,
    );
    return seen.flatMap((r) => (r.message ? [r.message] : []));
  }

  for (const protocol of connectAndGrpc) {
    test(`over ${protocol}: SendMessage naming another sender is PERMISSION_DENIED and posts nothing; an empty user_id posts as the caller`, async () => {
      const room = `spoof-send-${protocol}`;
      const chat = clientFor(ChatService, server.url, protocol, alice.token);
      await expectCode(
        chat.sendMessage({ room, userId: bob.user.id, content: "spoofed: I am Bob" }),
        Code.PermissionDenied,
        "SendMessage as Bob",
      );
      const { message } = await chat.sendMessage({ room, content: "from Alice" });
      assert.equal(message?.userId, alice.user.id, "the sender is the token's user");
      const mine = await chat.sendMessage({ room, userId: alice.user.id, content: "named myself" });
      assert.equal(mine.message?.userId, alice.user.id);
      const seen = await history(room, "named myself");
      assert.deepEqual(
        seen.map((m) => [m.userId, m.content]),
        [
          [alice.user.id, "from Alice"],
          [alice.user.id, "named myself"],
        ],
      );
    });
  }

  for (const protocol of bidiProtocols) {
    test(`over ${protocol}: a Chat message naming another sender ends the stream PERMISSION_DENIED and posts nothing`, async () => {
      const room = `spoof-chat-${protocol}`;
      const chat = clientFor(ChatService, server.url, protocol, alice.token);
      await expectCode(
        collect(chat.chat(streamOf([{ room, userId: bob.user.id, content: "spoofed: I am Bob" }]))),
        Code.PermissionDenied,
        "Chat as Bob",
      );
      // A legitimate first message is posted; the spoofed one after it is not.
      const sent: ChatMessage[] = [];
      await expectCode(
        (async () => {
          for await (const r of chat.chat(
            streamOf([
              { room, content: "hello from Alice" },
              { room, userId: bob.user.id, content: "spoofed again" },
            ]),
          )) {
            if (r.message) sent.push(r.message);
          }
        })(),
        Code.PermissionDenied,
        "Chat as Bob after a legitimate message",
      );
      const last = await chat.sendMessage({ room, content: "bye" });
      assert.equal(last.message?.userId, alice.user.id);
      const seen = await history(room, "bye");
      assert.deepEqual(
        seen.map((m) => [m.userId, m.content]),
        [
          [alice.user.id, "hello from Alice"],
          [alice.user.id, "bye"],
        ],
      );
    });
  }
});

describe("the admin token and SetPassword", () => {
  test("the admin token may act for anyone, and must name a user where the call acts as one", async () => {
    const orders = clientFor(OrderService, server.url, "grpc", testAdminToken);
    const { order } = await orders.createOrder({
      userId: bob.user.id,
      productId: "by-admin",
      quantity: 2,
      idempotencyKey: newKey(),
    });
    assert.equal(order?.userId, bob.user.id);
    assert.ok(
      (await collect(orders.listOrders({ userId: bob.user.id }))).some((r) => r.order?.id === order?.id),
    );
    const { message } = await clientFor(ChatService, server.url, "connect-json").sendMessage({
      room: "admin-speaks",
      userId: bob.user.id,
      content: "on Bob's behalf",
    });
    assert.equal(message?.userId, bob.user.id);
    await expectCode(
      orders.createOrder({ productId: "nobody", quantity: 1, idempotencyKey: newKey() }),
      Code.InvalidArgument,
      "the admin token names no user",
    );
    // An admin user (not the operator token) may act for others too.
    const dana = await createSignedInUser(server.url, { name: "Dana", role: Role.ADMIN });
    const byDana = await clientFor(OrderService, server.url, "connect-json", dana.token).createOrder({
      userId: bob.user.id,
      productId: "by-dana",
      quantity: 1,
      idempotencyKey: newKey(),
    });
    assert.equal(byDana.order?.userId, bob.user.id);
  });

  for (const protocol of connectAndGrpc) {
    test(`over ${protocol}: SetPassword needs the right current password and only for oneself`, async () => {
      const erin = await createSignedInUser(server.url, { name: "Erin" });
      const auth = clientFor(AuthService, server.url, protocol, erin.token);
      const newPassword = `new-${randomUUID()}`;
      await expectCode(
        auth.setPassword({ userId: bob.user.id, currentPassword: erin.password, newPassword }),
        Code.PermissionDenied,
        "setting Bob's password",
      );
      await expectCode(
        auth.setPassword({ currentPassword: "not-the-password", newPassword }),
        Code.PermissionDenied,
        "wrong current password",
      );
      await expectCode(auth.setPassword({ newPassword }), Code.PermissionDenied, "no current password");
      const signIn = clientFor(AuthService, server.url, protocol, null);
      // Nothing changed yet: the old password still signs in.
      await signIn.signIn({ email: erin.user.email, password: erin.password });

      await auth.setPassword({ currentPassword: erin.password, newPassword });
      const { user } = await signIn.signIn({ email: erin.user.email, password: newPassword });
      assert.equal(user?.id, erin.user.id);
      await expectCode(
        signIn.signIn({ email: erin.user.email, password: erin.password }),
        Code.Unauthenticated,
        "the old password",
      );
    });
  }
});
