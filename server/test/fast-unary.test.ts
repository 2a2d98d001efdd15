import assert from "node:assert/strict";
import * as http from "node:http";
import * as http2 from "node:http2";
import { after, before, describe, test } from "node:test";
import { gunzipSync } from "node:zlib";
import { create, toBinary } from "@bufbuild/protobuf";
import { GetUserRequestSchema } from "../../gen/switchboard/v1/user_pb.js";
import { testAdminToken } from "./support/auth.ts";
import { startTestServer, type TestServer } from "./support/test-server.ts";

/**
 * The unary fast path (server/src/fast-unary) must answer exactly as connect-node does. Each
 * case sends the same raw request to a server with the fast path and to one without it, and
 * compares what a client can see: status, protocol headers and trailers, and the body.
 */
interface Answer {
  status: number;
  headers: Record<string, string>;
  trailers: Record<string, string>;
  body: Buffer;
}

interface RawRequest {
  h2: boolean;
  path: string;
  headers: Record<string, string>;
  body: Uint8Array | string;
}

function sendH2(port: number, r: RawRequest): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on("error", reject);
    const stream = session.request({ ":method": "POST", ":path": r.path, ...r.headers });
    const chunks: Buffer[] = [];
    let headers: Record<string, string> = {};
    let trailers: Record<string, string> = {};
    stream.on("response", (h) => {
      headers = flatten(h);
    });
    stream.on("trailers", (t) => {
      trailers = flatten(t);
    });
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("end", () => {
      session.close();
      resolve({ status: Number(headers[":status"]), headers, trailers, body: Buffer.concat(chunks) });
    });
    stream.on("error", reject);
    stream.end(r.body);
  });
}

function sendH1(port: number, r: RawRequest): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port, method: "POST", path: r.path, headers: r.headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: flatten(res.headers),
            trailers: flatten(res.trailers),
            body: Buffer.concat(chunks),
          }),
        );
      },
    );
    req.on("error", reject);
    req.end(r.body);
  });
}

function flatten(h: Record<string, string | string[] | number | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h))
    if (v !== undefined) out[k] = Array.isArray(v) ? v.join(", ") : String(v);
  return out;
}

/** What must agree: everything but per-call ids, dates and connection management. */
function visible(a: Answer): unknown {
  const drop = new Set(["date", "x-request-id", "connection", "keep-alive", "transfer-encoding"]);
  const keep = (h: Record<string, string>) =>
    Object.fromEntries(Object.entries(h).filter(([k]) => !drop.has(k) && k !== "content-length"));
  const body = a.headers["content-encoding"] === "gzip" ? gunzipSync(a.body) : a.body;
  return {
    status: a.status,
    headers: keep(a.headers),
    trailers: keep(a.trailers),
    body: body.toString("base64"),
  };
}

function envelope(message: Uint8Array, flags = 0): Buffer {
  const head = Buffer.alloc(5);
  head[0] = flags;
  head.writeUInt32BE(message.byteLength, 1);
  return Buffer.concat([head, message]);
}

const unknownId = "01890000-0000-7000-8000-000000000000";
const getUser = (id: string) => toBinary(GetUserRequestSchema, create(GetUserRequestSchema, { id }));
const bearer = { authorization: `Bearer ${testAdminToken}` };
const grpc = { "content-type": "application/grpc", te: "trailers", ...bearer };
const connectProto = { "content-type": "application/proto", "connect-protocol-version": "1", ...bearer };
const connectJson = { "content-type": "application/json", "connect-protocol-version": "1", ...bearer };
const path = "/switchboard.v1.UserService/GetUser";
const session = "/switchboard.v1.AuthService/GetSession";

const cases: [string, RawRequest][] = [
  ["gRPC success (GetSession)", { h2: true, path: session, headers: grpc, body: envelope(new Uint8Array()) }],
  ["gRPC NOT_FOUND", { h2: true, path, headers: grpc, body: envelope(getUser(unknownId)) }],
  [
    "gRPC INVALID_ARGUMENT (validation, details)",
    { h2: true, path, headers: grpc, body: envelope(getUser("x")) },
  ],
  [
    "gRPC UNAUTHENTICATED (metadata)",
    { h2: true, path, headers: { ...grpc, authorization: "" }, body: envelope(getUser(unknownId)) },
  ],
  ["gRPC undecodable message", { h2: true, path, headers: grpc, body: envelope(Buffer.from([0xff, 0xff])) }],
  ["gRPC incomplete envelope", { h2: true, path, headers: grpc, body: Buffer.from([0, 0, 0, 0, 9, 1]) }],
  ["gRPC no message", { h2: true, path, headers: grpc, body: Buffer.alloc(0) }],
  [
    "gRPC two messages",
    {
      h2: true,
      path,
      headers: grpc,
      body: Buffer.concat([envelope(getUser(unknownId)), envelope(getUser(unknownId))]),
    },
  ],
  [
    "gRPC message over MAX_MESSAGE_BYTES",
    { h2: true, path, headers: grpc, body: envelope(Buffer.alloc(4096, 0x0a)) },
  ],
  [
    "gRPC bad timeout header",
    { h2: true, path, headers: { ...grpc, "grpc-timeout": "soon" }, body: envelope(getUser(unknownId)) },
  ],
  ["Connect binary success (h2)", { h2: true, path: session, headers: connectProto, body: new Uint8Array() }],
  ["Connect binary NOT_FOUND (h2)", { h2: true, path, headers: connectProto, body: getUser(unknownId) }],
  ["Connect JSON success (HTTP/1.1)", { h2: false, path: session, headers: connectJson, body: "{}" }],
  [
    "Connect JSON NOT_FOUND (HTTP/1.1)",
    { h2: false, path, headers: connectJson, body: `{"id":"${unknownId}"}` },
  ],
  ["Connect JSON invalid JSON", { h2: false, path, headers: connectJson, body: "{" }],
  [
    "Connect JSON unknown field",
    { h2: false, path, headers: connectJson, body: `{"id":"${unknownId}","x":1}` },
  ],
  [
    "Connect JSON over MAX_MESSAGE_BYTES",
    { h2: false, path, headers: connectJson, body: `{"id":"${"a".repeat(4096)}"}` },
  ],
  [
    "Connect bad timeout header",
    { h2: false, path, headers: { ...connectJson, "connect-timeout-ms": "-1" }, body: "{}" },
  ],
  [
    "Connect error body over 1 KiB, gzip accepted (compressed alike)",
    {
      h2: false,
      path: "/switchboard.v1.UserService/CreateUser",
      headers: { ...connectJson, "accept-encoding": "gzip" },
      body: JSON.stringify({ name: "", email: "nope", age: 0 }),
    },
  ],
  [
    "Connect PERMISSION_DENIED",
    {
      h2: false,
      path: "/switchboard.v1.UserService/UpdateUser",
      headers: connectJson,
      body: JSON.stringify({ user: { id: unknownId, role: "ROLE_ADMIN" }, updateMask: "role" }),
    },
  ],
];

describe("unary fast path answers as connect-node does", () => {
  let fast: TestServer;
  let stock: TestServer;
  before(async () => {
    [fast, stock] = await Promise.all([
      startTestServer({ MAX_MESSAGE_BYTES: "2048" }),
      startTestServer({ MAX_MESSAGE_BYTES: "2048", UNARY_FAST_PATH: "false" }),
    ]);
  });
  after(async () => {
    await Promise.all([fast?.close(), stock?.close()]);
  });

  for (const [name, request] of cases) {
    test(name, async () => {
      const send = request.h2 ? sendH2 : sendH1;
      const [a, b] = await Promise.all([send(fast.port, request), send(stock.port, request)]);
      assert.deepEqual(visible(a), visible(b));
    });
  }

  test("a large response is compressed when the client accepts it, on both paths alike", async () => {
    const request: RawRequest = {
      h2: false,
      path: "/switchboard.v1.UserService/CreateUser",
      headers: { ...connectJson, "accept-encoding": "gzip" },
      body: JSON.stringify({ name: "n".repeat(100), email: `${"e".repeat(200)}@example.com`, age: 30 }),
    };
    const [a, b] = await Promise.all([sendH1(fast.port, request), sendH1(stock.port, request)]);
    // Created rows differ in id and times; what the protocol decides must not.
    assert.equal(a.status, 200);
    assert.equal(a.status, b.status);
    assert.equal(a.headers["content-encoding"], b.headers["content-encoding"]);
    const user = (x: Answer) => {
      const body = x.headers["content-encoding"] === "gzip" ? gunzipSync(x.body) : x.body;
      const { id, createTime, updateTime, ...rest } = JSON.parse(body.toString()).user;
      return rest;
    };
    assert.deepEqual(user(a), user(b));
  });

  test("streams the client resets with an error code before their calls start leave the server up", async () => {
    // Reset in the same write that opened them, so each is reset while its call waits its
    // turn: node emits the reset as an 'error' on the stream, which would be thrown (and the
    // process would die) if nothing listened for it.
    const session = http2.connect(`http://127.0.0.1:${fast.port}`);
    session.on("error", () => {});
    for (const headers of [grpc, connectProto]) {
      for (let i = 0; i < 20; i++) {
        const stream = session.request({ ":method": "POST", ":path": path, ...headers });
        stream.on("error", () => {});
        stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
      }
    }
    await new Promise((r) => setTimeout(r, 100));
    session.close();
    const answer = await sendH2(fast.port, {
      h2: true,
      path,
      headers: grpc,
      body: envelope(getUser(unknownId)),
    });
    assert.equal(answer.trailers["grpc-status"], "5", "the server still answers");
  });
});
