// A request stream's envelopes are split out of whatever chunks the connection delivers
// (scripts/patch-dependencies.ts reads them in place): an envelope's header or message may
// straddle chunks, a large message may arrive over many, and a body that ends inside an
// envelope is INVALID_ARGUMENT. Sent as raw gRPC over HTTP/2, one awkward piece at a time.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import * as http2 from "node:http2";
import { after, before, test } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import {
  BatchCreateUsersRequestSchema,
  BatchCreateUsersResponseSchema,
  UserService,
} from "../../gen/switchboard/v1/user_pb.js";
import { grpcFrame, grpcRequestHeaders } from "./security/raw-h2.ts";
import { testAdminToken } from "./support/auth.ts";
import { clientFor, collect } from "./support/clients.ts";
import { startTestServer, type TestServer } from "./support/test-server.ts";

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server?.close();
});

/** Sends `body` to BatchCreateUsers in pieces of the given sizes (cycled), a turn apart. */
async function sendInPieces(
  body: Buffer,
  sizes: number[],
): Promise<{ status: number; message: string; response: Buffer }> {
  const session = http2.connect(server.url);
  try {
    const stream = session.request(
      grpcRequestHeaders("/switchboard.v1.UserService/BatchCreateUsers", testAdminToken),
    );
    const chunks: Buffer[] = [];
    stream.on("data", (c: Buffer) => chunks.push(c));
    const trailers = new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
      stream.on("trailers", resolve);
      stream.on("error", reject);
    });
    let at = 0;
    for (let i = 0; at < body.byteLength; i++) {
      const size = sizes[i % sizes.length] ?? 1;
      stream.write(body.subarray(at, at + size));
      at += size;
      // A turn between writes, so the pieces leave as separate DATA frames.
      await new Promise((r) => setImmediate(r));
    }
    stream.end();
    const t = await trailers;
    const response = Buffer.concat(chunks);
    return {
      status: Number(t["grpc-status"]),
      message: decodeURIComponent(String(t["grpc-message"] ?? "")),
      response: response.byteLength >= 5 ? response.subarray(5) : response,
    };
  } finally {
    session.close();
  }
}

test("envelopes straddling chunks, and a large message over many, are all read", async () => {
  const tag = randomUUID();
  const items = Array.from({ length: 40 }, (_, i) =>
    create(BatchCreateUsersRequestSchema, {
      name: `Piece ${i}`,
      email: `piece-${i}-${tag}@example.com`,
      age: 30,
    }),
  );
  // Item 20 is 200 KB: decoded whole across many chunks, then refused by its own rule (name
  // at most 100 characters), so the report names it.
  const big = 20;
  items[big] = create(BatchCreateUsersRequestSchema, {
    name: "x".repeat(200_000),
    email: `big-${tag}@example.com`,
    age: 30,
  });
  const body = Buffer.concat(items.map((m) => grpcFrame(toBinary(BatchCreateUsersRequestSchema, m))));
  // Pieces of 1, 2, 3 and 4 bytes cut through headers and messages alike; 1,000-byte pieces
  // carry the large message; 7 and 13 keep the cuts moving.
  const { status, message, response } = await sendInPieces(body, [1, 2, 3, 4, 7, 1000, 13, 1000, 1000]);
  assert.equal(status, 0, message);
  const report = fromBinary(BatchCreateUsersResponseSchema, response);
  assert.equal(report.successCount, items.length - 1);
  assert.deepEqual(
    report.failures.map((f) => [f.index, f.code]),
    [[big, Code.InvalidArgument]],
  );
  assert.deepEqual(
    report.users.map((u) => u.email).sort(),
    items
      .filter((_, i) => i !== big)
      .map((m) => m.email)
      .sort(),
  );
});

test("a body that ends inside an envelope is INVALID_ARGUMENT, and nothing of its batch is kept", async () => {
  const tag = randomUUID();
  const whole = grpcFrame(
    toBinary(
      BatchCreateUsersRequestSchema,
      create(BatchCreateUsersRequestSchema, { name: "Cut", email: `cut-${tag}@example.com`, age: 30 }),
    ),
  );
  for (const cut of [3, whole.byteLength - 2]) {
    const { status, message } = await sendInPieces(Buffer.concat([whole, whole.subarray(0, cut)]), [2, 5]);
    assert.equal(status, Code.InvalidArgument, `cut at ${cut}: ${message}`);
    assert.match(message, /incomplete envelope/);
  }
  const users = clientFor(UserService, server.url, "grpc");
  assert.equal((await collect(users.listUsers({ query: `cut-${tag}` }))).length, 0);
});
