// How the server answers broken or unsupported requests, per protocol, checked against what the
// Connect, gRPC (PROTOCOL-HTTP2, compression.md) and gRPC-Web specs say a client must be able
// to read. Requests are built byte by byte (wire.ts), so nothing smooths over a bad answer.
// Every request carries the test servers' admin token, except the one that shows how a call
// without a token is refused.
import assert from "node:assert/strict";
import { after, before } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import {
  CreateUserRequestSchema,
  GetUserRequestSchema,
  ListUsersRequestSchema,
  UpdateUserRequestSchema,
} from "../../../gen/switchboard/v1/user_pb.js";
import { testAdminToken } from "../support/auth.ts";
import { startTestServer, type TestServer } from "../support/test-server.ts";
import { type CellOptions, matrixFor } from "./matrix.ts";
import { lockUsersTable } from "./users-table.ts";
import {
  type Answer,
  connectStreamAnswer,
  connectUnaryAnswer,
  type Exchange,
  envelope,
  envelopes,
  exchange,
  grpcAnswer,
  grpcWebAnswer,
} from "./wire.ts";

let server: TestServer;
/** MAX_MESSAGE_BYTES at its minimum, for the size-limit row. */
let small: TestServer;
before(async () => {
  [server, small] = await Promise.all([startTestServer(), startTestServer({ MAX_MESSAGE_BYTES: "1024" })]);
});
after(async () => {
  await Promise.all([server?.close(), small?.close()]);
});

const { cell } = matrixFor("protocol-errors");

const protocols = {
  "Connect unary": {
    http: "1.1",
    contentType: (codec: string) => `application/${codec}`,
    headers: { "connect-protocol-version": "1" },
    framed: false,
    answer: connectUnaryAnswer,
  },
  "Connect stream": {
    http: "1.1",
    contentType: (codec: string) => `application/connect+${codec}`,
    headers: { "connect-protocol-version": "1" },
    framed: true,
    answer: connectStreamAnswer,
  },
  gRPC: {
    http: "2",
    contentType: (codec: string) => `application/grpc+${codec}`,
    headers: { te: "trailers" },
    framed: true,
    answer: grpcAnswer,
  },
  "gRPC-Web": {
    http: "1.1",
    contentType: (codec: string) => `application/grpc-web+${codec}`,
    headers: {},
    framed: true,
    answer: grpcWebAnswer,
  },
} as const;
type Protocol = keyof typeof protocols;
const allProtocols = Object.keys(protocols) as Protocol[];

const authorization = { authorization: `Bearer ${testAdminToken}` };

interface Call {
  /** Procedure path; a streaming one for "Connect stream" (only streams use its framing). */
  path: string;
  payload: Buffer | string;
  codec?: "proto" | "json";
  /** More headers; `authorization` (the admin token unless set) is sent unless it is null. */
  headers?: Record<string, string | null>;
  /** Envelope flags (1: compressed). */
  flags?: number;
  http?: "1.1" | "2";
  target?: TestServer;
}

async function call(protocol: Protocol, c: Call): Promise<{ x: Exchange; answer: Answer }> {
  const p = protocols[protocol];
  const x = await exchange((c.target ?? server).url, {
    http: c.http ?? p.http,
    path: c.path,
    headers: Object.fromEntries(
      Object.entries({
        "content-type": p.contentType(c.codec ?? "proto"),
        ...p.headers,
        ...authorization,
        ...c.headers,
      }).filter((e): e is [string, string] => e[1] !== null),
    ),
    body: p.framed ? envelope(c.payload, c.flags) : Buffer.from(c.payload),
  });
  return { x, answer: p.answer(x) };
}

const users = "/switchboard.v1.UserService";
/** A unary method for most columns, a streaming one for Connect streams. */
const pathFor = (protocol: Protocol, unary: string, stream = "ListUsers") =>
  `${users}/${protocol === "Connect stream" ? stream : unary}`;

function errorCell(
  row: string,
  protocol: Protocol,
  fn: () => Promise<void>,
  options: CellOptions = {},
): void {
  cell({ table: "errors", row, column: protocol }, fn, options);
}

// --- wrong content-type -----------------------------------------------------------------
for (const [protocol, http, contentType] of [
  ["Connect unary", "1.1", "application/xml"],
  ["Connect stream", "1.1", "application/connect+xml"],
  ["gRPC", "2", "text/plain"],
] as const) {
  errorCell("wrong content-type → 415", protocol, async () => {
    // Connect: an unsupported codec must be 415; gRPC: a content-type not starting with
    // application/grpc should be 415, so that no HTTP client mistakes it for success.
    const x = await exchange(server.url, {
      http,
      path: pathFor(protocol, "GetUser"),
      headers: { "content-type": contentType, te: "trailers", ...authorization },
      body: Buffer.from("<x/>"),
    });
    assert.equal(x.status, 415);
  });
}

// --- unknown service / unknown method -----------------------------------------------------
for (const [row, path] of [
  ["unknown service → UNIMPLEMENTED", "/switchboard.v1.NoSuchService/GetUser"],
  ["unknown method → UNIMPLEMENTED", `${users}/NoSuchMethod`],
] as const) {
  for (const protocol of allProtocols) {
    errorCell(row, protocol, async () => {
      const { x, answer } = await call(protocol, { path, payload: "" });
      assert.equal(answer.code, "unimplemented", answer.message);
      if (protocol.startsWith("Connect")) {
        // A JSON error body (whose code says unimplemented) or the HTTP status alone, where
        // 404 maps to unimplemented; either way the content-type of a unary error is JSON.
        assert.ok([404, 501].includes(x.status), `HTTP ${x.status}`);
        if (x.body.length > 0) assert.equal(x.headers["content-type"], "application/json");
      } else {
        const type =
          protocol === "gRPC" ? /^application\/grpc(\+proto)?$/ : /^application\/grpc-web(\+proto)?$/;
        assert.match(x.headers["content-type"] ?? "", type);
      }
    });
  }
}

// --- undecodable payloads -----------------------------------------------------------------
for (const protocol of allProtocols) {
  errorCell("invalid protobuf → INVALID_ARGUMENT", protocol, async () => {
    // Design §3: never INTERNAL for a client's mistake (connect-go answers invalid_argument).
    const { x, answer } = await call(protocol, {
      path: pathFor(protocol, "CreateUser"),
      payload: Buffer.from([0xff, 0xff, 0xff]),
    });
    assert.equal(answer.code, "invalid_argument", answer.message);
    if (protocol === "Connect unary") assert.equal(x.status, 400);
  });
}

for (const protocol of allProtocols) {
  errorCell("invalid JSON → INVALID_ARGUMENT", protocol, async () => {
    const { x, answer } = await call(protocol, {
      path: pathFor(protocol, "CreateUser"),
      codec: "json",
      payload: '{"name": "Ada", "email": ',
    });
    assert.equal(answer.code, "invalid_argument", answer.message);
    if (protocol === "Connect unary") assert.equal(x.status, 400);
  });
}

// --- size limit ---------------------------------------------------------------------------
for (const protocol of allProtocols) {
  errorCell("message over MAX_MESSAGE_BYTES → RESOURCE_EXHAUSTED", protocol, async () => {
    const big = toBinary(
      CreateUserRequestSchema,
      create(CreateUserRequestSchema, { name: "n".repeat(1100), email: "big@x.example", age: 30 }),
    );
    const { x, answer } = await call(protocol, {
      target: small,
      path: pathFor(protocol, "CreateUser", "BatchCreateUsers"),
      payload: Buffer.from(big),
    });
    assert.equal(answer.code, "resource_exhausted", answer.message);
    if (protocol === "Connect unary") assert.equal(x.status, 429);
  });
}

// --- compression --------------------------------------------------------------------------
const unknownEncoding: Record<Protocol, Record<string, string>> = {
  "Connect unary": { "content-encoding": "br-unknown" },
  "Connect stream": { "connect-content-encoding": "br-unknown" },
  gRPC: { "grpc-encoding": "snappy" },
  "gRPC-Web": { "grpc-encoding": "snappy" },
};
const getUser = Buffer.from(toBinary(GetUserRequestSchema, create(GetUserRequestSchema, { id: "x" })));

for (const protocol of allProtocols) {
  errorCell("unsupported compression → UNIMPLEMENTED", protocol, async () => {
    // Connect: code unimplemented and a message listing the supported encodings; gRPC
    // (compression.md): UNIMPLEMENTED, the description naming the supported ones.
    const { x, answer } = await call(protocol, {
      path: pathFor(protocol, "GetUser"),
      payload: getUser,
      flags: 1,
      headers: unknownEncoding[protocol],
    });
    assert.equal(answer.code, "unimplemented", answer.message);
    assert.match(answer.message, /gzip/);
    if (protocol === "Connect unary") assert.equal(x.status, 501);
  });
}

errorCell("unsupported compression → grpc-accept-encoding", "gRPC", async () => {
  // compression.md: the server includes grpc-accept-encoding with the algorithms it accepts,
  // which must not contain the one the client used.
  const { x } = await call("gRPC", {
    path: `${users}/GetUser`,
    payload: getUser,
    flags: 1,
    headers: unknownEncoding.gRPC,
  });
  const accepted = x.headers["grpc-accept-encoding"] ?? x.trailers["grpc-accept-encoding"];
  assert.ok(accepted, "grpc-accept-encoding in the answer");
  assert.match(accepted, /gzip/);
  assert.doesNotMatch(accepted, /snappy/);
});

// --- authentication -----------------------------------------------------------------------
const unknownUser = Buffer.from(
  toBinary(
    GetUserRequestSchema,
    create(GetUserRequestSchema, { id: "01890000-0000-7000-8000-000000000000" }),
  ),
);
for (const protocol of allProtocols) {
  errorCell("no bearer token → UNAUTHENTICATED with WWW-Authenticate", protocol, async () => {
    const { x, answer } = await call(protocol, {
      path: pathFor(protocol, "GetUser"),
      payload: protocol === "Connect stream" ? "" : unknownUser,
      headers: { authorization: null },
    });
    assert.equal(answer.code, "unauthenticated", answer.message);
    // Connect unary maps unauthenticated to HTTP 401, which RFC 9110 says must carry
    // WWW-Authenticate; Connect streams carry it in the EndStreamResponse's metadata, gRPC and
    // gRPC-Web as metadata (headers, trailers or the trailer frame).
    if (protocol === "Connect unary") assert.equal(x.status, 401);
    const endStream = () => {
      const end = envelopes(x.body).at(-1);
      const { metadata } = JSON.parse(end?.data.toString() ?? "{}") as {
        metadata?: Record<string, string[]>;
      };
      return metadata?.["www-authenticate"]?.[0];
    };
    const challenge =
      x.headers["www-authenticate"] ??
      x.trailers["www-authenticate"] ??
      (protocol === "Connect stream"
        ? endStream()
        : /^www-authenticate:\s*(.*)$/im.exec(x.body.toString("latin1"))?.[1]);
    assert.match(challenge ?? "", /^Bearer\b/, "a Bearer challenge");
  });
}

// --- HTTP versions ------------------------------------------------------------------------
errorCell("gRPC over HTTP/1.1: full answer, status in trailers", "gRPC", async () => {
  // gRPC is specified over HTTP/2 only. connect-node still serves it on HTTP/1.1 with chunked
  // trailers (the client sent TE: trailers); what must hold is that the answer is complete.
  const { x, answer } = await call("gRPC", { http: "1.1", path: `${users}/GetUser`, payload: getUser });
  assert.equal(x.status, 200);
  assert.equal(x.trailers["grpc-status"], "3", "the status comes in HTTP/1.1 trailers");
  assert.equal(answer.code, "invalid_argument");
});

for (const protocol of ["Connect stream", "gRPC", "gRPC-Web"] as const) {
  errorCell("bidi over HTTP/1.1 → 505", protocol, async () => {
    // Bidi needs full duplex; over HTTP/1.1 the server must refuse rather than leave the client
    // waiting, and close the connection (a client may be blocked writing its request).
    const { x } = await call(protocol, { http: "1.1", path: `${users}/UserStream`, payload: "" });
    assert.equal(x.status, 505);
    assert.equal(x.headers.connection, "close");
  });
}

// --- deadlines ----------------------------------------------------------------------------
const timeoutHeader: Record<Protocol, Record<string, string>> = {
  "Connect unary": { "connect-timeout-ms": "200" },
  "Connect stream": { "connect-timeout-ms": "200" },
  gRPC: { "grpc-timeout": "200m" },
  "gRPC-Web": { "grpc-timeout": "200m" },
};

for (const protocol of allProtocols) {
  errorCell("timeout header shorter than the handler → DEADLINE_EXCEEDED", protocol, async () => {
    const created = await call("Connect unary", {
      path: `${users}/CreateUser`,
      codec: "json",
      payload: JSON.stringify({
        name: "Slow",
        email: `slow-${protocol.replace(/\W/g, "")}@x.example`,
        age: 30,
      }),
    });
    const id = (JSON.parse(created.x.body.toString()) as { user: { id: string } }).user.id;
    const payload =
      protocol === "Connect stream"
        ? toBinary(ListUsersRequestSchema, create(ListUsersRequestSchema, {}))
        : toBinary(
            UpdateUserRequestSchema,
            create(UpdateUserRequestSchema, { user: { id, name: "Late" }, updateMask: { paths: ["name"] } }),
          );
    const lock = await lockUsersTable(server);
    try {
      const { x, answer } = await call(protocol, {
        path: pathFor(protocol, "UpdateUser"),
        payload: Buffer.from(payload),
        headers: timeoutHeader[protocol],
      });
      assert.equal(answer.code, "deadline_exceeded", answer.message);
      if (protocol === "Connect unary") assert.equal(x.status, 504);
      assert.ok(x.elapsedMs < 2000, `answered after ${x.elapsedMs} ms`);
    } finally {
      await lock.release();
    }
  });
}
