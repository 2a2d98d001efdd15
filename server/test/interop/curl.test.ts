// Plain curl speaking the Connect protocol by hand over HTTP/1.1: unary JSON POST (UserService,
// and ChatService's SendMessage through the shared chat case), the GET form for side-effect-free
// methods (GetUser, GetOrder), gzip in both directions, and AuthService with the access cases
// (auth-cases.ts). Every call sends `-H "authorization: Bearer <token>"`, the admin token unless
// a case calls as a user or as no one.
import assert from "node:assert/strict";
import { after, before } from "node:test";
import { gunzipSync, gzipSync } from "node:zlib";
import { testAdminToken } from "../support/auth.ts";
import { startTestServer, type TestServer } from "../support/test-server.ts";
import { authCells } from "./auth-cases.ts";
import { runChatCase } from "./chat-cases.ts";
import { bearerHeader, curl, curlRpcClient } from "./curl.ts";
import { matrixFor } from "./matrix.ts";
import { type Order, procedures, unknownId } from "./order-cases.ts";

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server?.close();
});

const { cell } = matrixFor("curl");
const row = "curl · Connect JSON · HTTP/1.1";
const label = "curl (Connect JSON, HTTP/1.1)";
/** A UserService method, or any "package.Service/Method". */
const url = (method: string) =>
  `${server.url}/${method.includes("/") ? method : `switchboard.v1.UserService/${method}`}`;
const auth = bearerHeader(testAdminToken);
const jsonPost = [
  "-X",
  "POST",
  "-H",
  "content-type: application/json",
  "-H",
  "connect-protocol-version: 1",
  ...auth,
];

/** A Connect unary call as a JSON POST that must succeed; answers the response message. */
async function post<T>(method: string, request: object): Promise<T> {
  const res = await curl(url(method), jsonPost, JSON.stringify(request));
  assert.equal(res.status, 200, res.body.toString());
  return JSON.parse(res.body.toString()) as T;
}

/** The GET form of a Connect unary call, with the request as JSON in the query. */
function get(method: string, request: object) {
  const query = new URLSearchParams({ connect: "v1", encoding: "json", message: JSON.stringify(request) });
  return curl(`${url(method)}?${query}`, ["-X", "GET", ...auth]);
}

type User = { id: string; email: string; version: string };

async function createUser(email: string): Promise<User> {
  return (await post<{ user: User }>("CreateUser", { name: "Curl", email, age: 28 })).user;
}

cell({ table: "clients", row, column: "unary" }, async () => {
  const res = await curl(
    url("CreateUser"),
    jsonPost,
    JSON.stringify({ name: "Curl", email: "curl@x.example", age: 28 }),
  );
  assert.equal(res.status, 200, res.body.toString());
  assert.equal(res.headers["content-type"], "application/json");
  const { user } = JSON.parse(res.body.toString()) as { user: User };
  assert.equal(user.email, "curl@x.example");
  assert.equal(user.version, "1", "int64 is a JSON string");

  const missing = await curl(
    url("GetUser"),
    jsonPost,
    JSON.stringify({ id: "01890000-0000-7000-8000-000000000000" }),
  );
  assert.equal(missing.status, 404);
  assert.equal(missing.headers["content-type"], "application/json");
  assert.equal(JSON.parse(missing.body.toString()).code, "not_found");

  // UpdateUser with a field mask (a string in JSON), then DeleteUser: the user is gone.
  const updated = await post<{ user: User & { name: string } }>("UpdateUser", {
    user: { id: user.id, name: "Curl U." },
    updateMask: "name",
  });
  assert.partialDeepStrictEqual(updated.user, { id: user.id, name: "Curl U.", version: "2" });
  assert.deepEqual(await post("DeleteUser", { id: user.id }), {});
  const gone = await curl(url("GetUser"), jsonPost, JSON.stringify({ id: user.id }));
  assert.equal(gone.status, 404);
});

cell({ table: "features", row: "Connect GET", column: label }, async () => {
  const created = await createUser("get@x.example");
  const res = await get("GetUser", { id: created.id });
  assert.equal(res.status, 200, res.body.toString());
  assert.equal(res.headers["content-type"], "application/json");
  assert.deepEqual(JSON.parse(res.body.toString()).user, created);

  // Only methods marked NO_SIDE_EFFECTS may be called with GET.
  const sideEffects = await get("CreateUser", {});
  assert.equal(sideEffects.status, 405, "CreateUser has side effects");
});

cell({ table: "rpcs", row, column: "GetOrder" }, async () => {
  // GetOrder is NO_SIDE_EFFECTS: Connect GET with the request as JSON in the query.
  const user = await createUser("get-order@x.example");
  const { order } = await post<{ order: Order }>(procedures.CreateOrder, {
    userId: user.id,
    productId: "sku-7",
    quantity: 3,
    idempotencyKey: "curl-1",
  });
  const res = await get(procedures.GetOrder, { id: order.id });
  assert.equal(res.status, 200, res.body.toString());
  assert.equal(res.headers["content-type"], "application/json");
  const got = JSON.parse(res.body.toString()).order as Order;
  assert.deepEqual(got, order);
  assert.partialDeepStrictEqual(got, {
    userId: user.id,
    productId: "sku-7",
    quantity: 3,
    status: "ORDER_STATUS_PENDING",
    version: "1",
  });

  const missing = await get(procedures.GetOrder, { id: unknownId });
  assert.equal(missing.status, 404);
  assert.equal(JSON.parse(missing.body.toString()).code, "not_found");

  // UpdateOrderStatus changes the order: no GET for it.
  const update = await get(procedures.UpdateOrderStatus, { id: order.id, status: "ORDER_STATUS_PAID" });
  assert.equal(update.status, 405, "UpdateOrderStatus has side effects");
  const after = await get(procedures.GetOrder, { id: order.id });
  assert.equal(JSON.parse(after.body.toString()).order.status, "ORDER_STATUS_PENDING");
});

cell({ table: "chat", row, column: "SendMessage" }, async () => {
  // The case every client runs (chat-cases.ts), each call a JSON POST.
  const client = curlRpcClient(server.url);
  await runChatCase("SendMessage", { client, other: client }, "curl");
});

// AuthService and access: the same POSTs with another Authorization header, or none.
authCells(cell, row, "curl", () => ({
  client: curlRpcClient(server.url),
  as: (token) => curlRpcClient(server.url, token),
}));

cell({ table: "features", row: "message over MAX_MESSAGE_BYTES", column: label }, async () => {
  // 5 MiB against the default 4 MiB, refused from Content-Length before it is read.
  const body = JSON.stringify({ name: "n".repeat(5 << 20), email: "big@x.example", age: 30 });
  const res = await curl(url("CreateUser"), jsonPost, body);
  assert.equal(res.status, 429, res.body.toString());
  const error = JSON.parse(res.body.toString()) as { code: string; message: string };
  assert.equal(error.code, "resource_exhausted");
  assert.match(error.message, /readMaxBytes/);
});

cell({ table: "features", row: "gzip request", column: label }, async () => {
  const body = gzipSync(JSON.stringify({ name: "Zipped", email: "gzip@x.example", age: 41 }));
  const res = await curl(url("CreateUser"), [...jsonPost, "-H", "content-encoding: gzip"], body);
  assert.equal(res.status, 200, res.body.toString());
  assert.equal(JSON.parse(res.body.toString()).user.email, "gzip@x.example");
});

cell({ table: "features", row: "gzip response", column: label }, async () => {
  // connect-node compresses bodies of 1 KiB and more (compressMinBytes); a user record is
  // smaller, a validation error with three violations and their details is not.
  const res = await curl(
    url("CreateUser"),
    [...jsonPost, "-H", "accept-encoding: gzip"],
    JSON.stringify({ name: "", email: "nope", age: 0 }),
  );
  assert.equal(res.status, 400);
  assert.equal(res.headers["content-encoding"], "gzip");
  assert.equal(Number(res.headers["content-length"]), res.body.length);
  const error = JSON.parse(gunzipSync(res.body).toString()) as { code: string; details: { type: string }[] };
  assert.equal(error.code, "invalid_argument");
  assert.deepEqual(
    error.details.map((d) => d.type),
    ["buf.validate.Violations"],
  );
});
