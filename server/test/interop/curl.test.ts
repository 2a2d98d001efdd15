// Plain curl speaking the Connect protocol by hand over HTTP/1.1: unary JSON POST, the GET form
// for side-effect-free methods, and gzip in both directions.
import assert from "node:assert/strict";
import { after, before } from "node:test";
import { gunzipSync, gzipSync } from "node:zlib";
import { startTestServer, type TestServer } from "../support/test-server.ts";
import { curl } from "./curl.ts";
import { matrixFor } from "./matrix.ts";

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
const url = (method: string) => `${server.url}/switchboard.v1.UserService/${method}`;
const jsonPost = ["-X", "POST", "-H", "content-type: application/json", "-H", "connect-protocol-version: 1"];

type User = { id: string; email: string; version: string };

async function createUser(email: string): Promise<User> {
  const res = await curl(url("CreateUser"), jsonPost, JSON.stringify({ name: "Curl", email, age: 28 }));
  assert.equal(res.status, 200, res.body.toString());
  return (JSON.parse(res.body.toString()) as { user: User }).user;
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
});

cell({ table: "features", row: "Connect GET", column: label }, async () => {
  const created = await createUser("get@x.example");
  const query = new URLSearchParams({
    connect: "v1",
    encoding: "json",
    message: JSON.stringify({ id: created.id }),
  });
  const res = await curl(`${url("GetUser")}?${query}`, ["-X", "GET"]);
  assert.equal(res.status, 200, res.body.toString());
  assert.equal(res.headers["content-type"], "application/json");
  assert.deepEqual(JSON.parse(res.body.toString()).user, created);

  // Only methods marked NO_SIDE_EFFECTS may be called with GET.
  const post = await curl(
    `${url("CreateUser")}?${new URLSearchParams({ connect: "v1", encoding: "json", message: "{}" })}`,
    ["-X", "GET"],
  );
  assert.equal(post.status, 405, "CreateUser has side effects");
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
