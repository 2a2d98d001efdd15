// @grpc/grpc-js, the reference gRPC client for Node, against the running server: the four RPC
// kinds, every OrderService and NotificationService RPC (order-cases.ts; what changes while a
// live stream is open is done by buf curl), every ChatService RPC (chat-cases.ts; the other
// member of the room is a second grpc-js channel), AuthService and the access cases
// (auth-cases.ts), then deadlines, cancellation, metadata and error details. Every call carries
// the bearer token as `authorization` metadata (grpc-js-client.ts).
import assert from "node:assert/strict";
import { after, before } from "node:test";
import { fromBinary } from "@bufbuild/protobuf";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { ViolationsSchema } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { StatusSchema } from "../../../gen/google/rpc/status_pb.js";
import { startTestServer, type TestServer } from "../support/test-server.ts";
import { authCells } from "./auth-cases.ts";
import { bufCurlClient } from "./buf-curl.ts";
import { chatCells } from "./chat-cases.ts";
import {
  type BatchReport,
  failure,
  type GrpcJsRpcClient,
  grpc,
  grpcJsRpcClient,
  readAll,
  type UserServiceStub,
  type UserStreamAnswer,
  unary,
  userServiceClient,
} from "./grpc-js-client.ts";
import { matrixFor } from "./matrix.ts";
import {
  assertSubscriptionsBackTo,
  liveSubscriptions,
  type OrderEvent,
  orderCells,
  procedures,
} from "./order-cases.ts";
import { type Json, rpcFailure } from "./rpc-client.ts";
import { lockUsersTable, seedUsers } from "./users-table.ts";

let server: TestServer;
let client: UserServiceStub;
/** The same grpc-js, calling OrderService and NotificationService by name. */
let rpc: GrpcJsRpcClient;
/** A second grpc-js channel: the other member of a chat room. */
let otherRpc: GrpcJsRpcClient;
before(async () => {
  server = await startTestServer();
  client = userServiceClient(server.url);
  rpc = grpcJsRpcClient(server.url);
  otherRpc = grpcJsRpcClient(server.url);
});
after(async () => {
  client?.close();
  rpc?.close();
  otherRpc?.close();
  await server?.close();
});

const { cell } = matrixFor("grpc-js");
const row = "grpc-js · gRPC · h2c";
const label = "grpc-js (gRPC, h2c)";
const unknownId = "01890000-0000-7000-8000-000000000000";
const Status = grpc.status;

cell({ table: "clients", row, column: "unary" }, async () => {
  const { response } = await unary(client, "createUser", {
    name: "Grace",
    email: "grace@grpc-js.example",
    age: 45,
  });
  assert.equal(response.user.email, "grace@grpc-js.example");
  assert.equal(response.user.version, "1");
  const got = await unary(client, "getUser", { id: response.user.id });
  assert.deepEqual(got.response.user, response.user);
  const missing = await failure(unary(client, "getUser", { id: unknownId }));
  assert.equal(missing.code, Status.NOT_FOUND);
  // UpdateUser with a field mask, then DeleteUser: the user is gone.
  const updated = await unary(client, "updateUser", {
    user: { id: response.user.id, name: "Grace H." },
    update_mask: { paths: ["name"] },
  });
  assert.partialDeepStrictEqual(updated.response.user, {
    name: "Grace H.",
    email: "grace@grpc-js.example",
    version: "2",
  });
  assert.deepEqual(await rpc.unary("switchboard.v1.UserService/DeleteUser", { id: response.user.id }), {});
  const gone = await failure(unary(client, "getUser", { id: response.user.id }));
  assert.equal(gone.code, Status.NOT_FOUND);
});

cell({ table: "clients", row, column: "server stream" }, async () => {
  await seedUsers(server, "grpcjs-list", 7);
  const messages = await readAll(client.listUsers({ query: "grpcjs-list-", page_size: 3 }));
  assert.deepEqual(
    messages.map((m) => m.user.email).sort(),
    [1, 2, 3, 4, 5, 6, 7].map((n) => `grpcjs-list-${n}@seed.example`).sort(),
  );
});

cell({ table: "clients", row, column: "client stream" }, async () => {
  const report = await new Promise<BatchReport>((resolve, reject) => {
    const call = client.batchCreateUsers(new grpc.Metadata(), {}, (err, res) =>
      err || !res ? reject(err) : resolve(res),
    );
    call.write({ name: "B0", email: "b0@grpc-js.example", age: 20 });
    call.write({ name: "B1", email: "b0@grpc-js.example", age: 21 });
    call.write({ name: "B2", email: "b2@grpc-js.example", age: 0 });
    call.write({ name: "B3", email: "b3@grpc-js.example", age: 23 });
    call.end();
  });
  assert.equal(report.success_count, 2);
  assert.deepEqual(
    report.users.map((u) => u.email),
    ["b0@grpc-js.example", "b3@grpc-js.example"],
  );
  assert.deepEqual(
    report.failures.map((f) => [f.index, f.code]),
    [
      [1, Status.ALREADY_EXISTS],
      [2, Status.INVALID_ARGUMENT],
    ],
  );
});

cell({ table: "clients", row, column: "bidi" }, async () => {
  // Full duplex: each request is written only after the previous answer has arrived.
  const call = client.userStream();
  const answers: UserStreamAnswer[] = [];
  const next = () =>
    new Promise<UserStreamAnswer>((resolve, reject) => {
      call.once("data", (a: UserStreamAnswer) => {
        answers.push(a);
        resolve(a);
      });
      call.once("error", reject);
    });
  let answer = next();
  call.write({ request_id: "1", create: { name: "Duplex", email: "duplex@grpc-js.example", age: 30 } });
  const created = await answer;
  assert.equal(created.result, "user");
  answer = next();
  call.write({ request_id: "2", get: { id: created.user?.id } });
  assert.equal((await answer).user?.email, "duplex@grpc-js.example");
  answer = next();
  call.write({ request_id: "3", delete: { id: unknownId } });
  const missing = await answer;
  assert.equal(missing.result, "error");
  assert.equal(missing.error?.code, Status.NOT_FOUND, "answered in band; the stream goes on");
  const ended = new Promise<void>((resolve, reject) => {
    call.on("end", resolve);
    call.on("error", reject);
  });
  call.end();
  await ended;
  assert.deepEqual(
    answers.map((a) => a.request_id),
    ["1", "2", "3"],
  );
});

orderCells(cell, row, "grpc-js", () => ({
  server,
  clients: { client: rpc, other: bufCurlClient(server.url, "Connect · HTTP/1.1", "binpb") },
}));

// ChatService: the Chat stream writes in lockstep (each post once the previous one came back)
// while a Subscribe on the other channel follows the room.
chatCells(cell, row, "grpc-js", () => ({ server, clients: { client: rpc, other: otherRpc } }));

// AuthService and access: the same channel with another token in the metadata, or none.
authCells(cell, row, "grpc-js", () => ({ client: rpc, as: (token) => rpc.as(token) }));

/** A user with one order, placed through grpc-js: the start of a StreamOrders. */
async function userWithOrder(email: string) {
  const { response } = await unary(client, "createUser", { name: "Live", email, age: 30 });
  const { order } = (await rpc.unary(procedures.CreateOrder, {
    user_id: response.user.id,
    product_id: "sku-1",
    quantity: 1,
    idempotency_key: "first",
  })) as { order: { id: string } };
  return { userId: response.user.id, orderId: order.id };
}

const eventOf = (m: Json) => m.event as OrderEvent;

cell({ table: "features", row: "cancel live stream", column: label }, async () => {
  const { userId, orderId } = await userWithOrder("cancel-live@grpc-js.example");
  const subscriptions = liveSubscriptions(server);
  // The stream is cancelled after its first event (the adapter asserts it ends CANCELLED), and
  // the server lets go of it.
  const [first] = (await rpc.serverStream(procedures.StreamOrders, { user_id: userId }, { take: 1 })).map(
    eventOf,
  );
  assert.equal(first?.order.id, orderId);
  await assertSubscriptionsBackTo(server, subscriptions);
  // An order placed while nobody listens is there when the client resumes from its cursor.
  const { order } = (await bufCurlClient(server.url, "gRPC · h2c", "binpb").unary(procedures.CreateOrder, {
    user_id: userId,
    product_id: "sku-2",
    quantity: 1,
    idempotency_key: "second",
  })) as { order: { id: string } };
  const [next] = (
    await rpc.serverStream(
      procedures.StreamOrders,
      { user_id: userId, after_sequence: first.sequence },
      { take: 1 },
    )
  ).map(eventOf);
  assert.equal(next?.order.id, order.id);
  assert.ok(Number(next?.sequence) > Number(first.sequence));
  await assertSubscriptionsBackTo(server, subscriptions);
});

cell({ table: "features", row: "live stream ends at deadline", column: label }, async () => {
  const { userId, orderId } = await userWithOrder("deadline-live@grpc-js.example");
  const subscriptions = liveSubscriptions(server);
  const timed = grpcJsRpcClient(server.url, { deadlineMs: 500 });
  const seen: string[] = [];
  const started = Date.now();
  try {
    const err = await rpcFailure(
      timed.serverStream(
        procedures.StreamOrders,
        { user_id: userId },
        { onMessage: (m) => void seen.push(eventOf(m).order.id) },
      ),
    );
    assert.equal(err.code, "deadline_exceeded", err.message);
  } finally {
    timed.close();
  }
  assert.deepEqual(seen, [orderId], "the replay came before the deadline");
  assert.ok(Date.now() - started < 2000, `ended after ${Date.now() - started} ms`);
  await assertSubscriptionsBackTo(server, subscriptions);
});

/** Starts an UpdateUser that cannot finish: the users table is locked until the test releases it. */
async function updateAgainstLock(deadlineMs: number) {
  const { response } = await unary(client, "createUser", {
    name: "Before",
    email: `deadline-${deadlineMs}-${Date.now()}@grpc-js.example`,
    age: 50,
  });
  const lock = await lockUsersTable(server);
  const started = Date.now();
  const err = await failure(
    unary(
      client,
      "updateUser",
      { user: { id: response.user.id, name: "After" }, update_mask: { paths: ["name"] } },
      { deadline: new Date(Date.now() + deadlineMs) },
    ),
  ).catch(async (e: unknown) => {
    await lock.release();
    throw e;
  });
  return { id: response.user.id, err, elapsed: Date.now() - started, lock };
}

cell({ table: "features", row: "deadline", column: label }, async () => {
  const { err, elapsed, lock } = await updateAgainstLock(300);
  await lock.release();
  assert.equal(err.code, Status.DEADLINE_EXCEEDED, err.message);
  assert.ok(elapsed < 2000, `answered after ${elapsed} ms, not at the deadline`);
});

cell({ table: "features", row: "work cut at deadline", column: label }, async () => {
  // grpc-js fails the call at its own deadline whatever the server does; what shows that the
  // server honoured grpc-timeout is that the update never lands, even once the lock is gone.
  const { id, err, lock } = await updateAgainstLock(300);
  try {
    assert.equal(err.code, Status.DEADLINE_EXCEEDED);
    await new Promise((r) => setTimeout(r, 700));
  } finally {
    await lock.release();
  }
  await new Promise((r) => setTimeout(r, 200));
  const { response } = await unary(client, "getUser", { id });
  assert.equal(
    response.user.name,
    "Before",
    "an update answered DEADLINE_EXCEEDED must not be applied later",
  );
});

cell({ table: "features", row: "cancel mid-stream", column: label }, async () => {
  const rows = 3000;
  await seedUsers(server, "grpcjs-cancel", rows);
  const call = client.listUsers({ query: "grpcjs-cancel-", page_size: 50 });
  let received = 0;
  const status = await new Promise<grpc.StatusObject>((resolve) => {
    call.on("data", () => {
      if (++received === 10) call.cancel();
    });
    call.on("error", () => {});
    call.on("status", resolve);
  });
  assert.equal(status.code, Status.CANCELLED);
  assert.ok(received >= 10 && received < rows, `received ${received} of ${rows}`);
  // The server is not stuck: the same channel answers at once, and a new stream runs to the end.
  const started = Date.now();
  await unary(client, "getUser", { id: unknownId }).catch(() => {});
  assert.ok(Date.now() - started < 2000);
  const all = await readAll(client.listUsers({ query: "grpcjs-cancel-", page_size: 1000 }));
  assert.equal(all.length, rows);
});

cell({ table: "features", row: "metadata", column: label }, async () => {
  const md = new grpc.Metadata();
  md.set("x-interop-tag", "grpc-js");
  md.set("x-interop-trace-bin", Buffer.from([0, 1, 2, 255]));
  const { headers, trailers } = await unary(
    client,
    "createUser",
    { name: "Meta", email: "meta@grpc-js.example", age: 33 },
    { metadata: md },
  );
  // UserService echoes no custom metadata; what connect-node sends is the protocol's own.
  assert.match(String(headers.get("content-type")[0]), /^application\/grpc(\+proto)?$/);
  assert.deepEqual(headers.get("x-interop-tag"), []);
  assert.deepEqual(Object.keys(trailers.getMap()), []);
});

cell({ table: "features", row: "error details", column: label }, async () => {
  const err = await failure(unary(client, "createUser", { name: "Bad", email: "not-an-email", age: 30 }));
  assert.equal(err.code, Status.INVALID_ARGUMENT);
  const [bin] = err.metadata.get("grpc-status-details-bin");
  assert.ok(Buffer.isBuffer(bin), "grpc-status-details-bin trailer");
  const status = fromBinary(StatusSchema, bin);
  assert.equal(status.code, Status.INVALID_ARGUMENT);
  assert.equal(status.details.length, 1);
  const violations = status.details[0] && anyUnpack(status.details[0], ViolationsSchema);
  assert.ok(violations, `detail of type ${status.details[0]?.typeUrl}`);
  assert.deepEqual(
    violations.violations.map((v) => [v.field?.elements.map((e) => e.fieldName).join("."), v.ruleId]),
    [["email", "string.email"]],
  );
  // grpc-js decodes grpc-message with decodeURI, which leaves %3A (":") encoded.
  assert.equal(decodeURIComponent(err.details), status.message);
});

cell({ table: "features", row: "message over MAX_MESSAGE_BYTES", column: label }, async () => {
  // 5 MiB against the default 4 MiB, refused from its length prefix: the server answers, then
  // asks the client to stop sending with RST_STREAM(NO_ERROR) (RFC 9113 §8.1), which must not
  // turn the answer into a transport error.
  const big = { name: "n".repeat(5 << 20), email: "big@x.example", age: 30 };
  const err = await failure(unary(client, "createUser", big));
  assert.equal(err.code, Status.RESOURCE_EXHAUSTED, err.message);
  assert.match(err.details, /readMaxBytes/);
});

cell({ table: "features", row: "unknown method", column: label }, async () => {
  const err = await failure(
    new Promise((resolve, reject) =>
      client.makeUnaryRequest(
        "/switchboard.v1.UserService/Nope",
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.alloc(0),
        (e, res) => (e ? reject(e) : resolve(res)),
      ),
    ),
  );
  assert.equal(err.code, Status.UNIMPLEMENTED, err.message);
});
