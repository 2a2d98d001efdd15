import assert from "node:assert/strict";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { createMetrics } from "./metrics.ts";
import { createRefusals } from "./refusal-response.ts";

// Bare HTTP/2 streams refused as they arrive (answerStream): each protocol's own error form,
// the request body read away, every refusal counted. The compatibility-layer path (answer) is
// covered with the whole server in test/security/limits.test.ts.
const metrics = createMetrics({
  openCalls: () => 0,
  openStreams: () => 0,
  poolSize: () => 1,
  poolInFlight: () => 0,
});
const refusals = createRefusals(metrics);
const error = new ConnectError("too many open streams for this address (at most 4)", Code.ResourceExhausted);
const path = "/switchboard.v1.ChatService/Subscribe";
let server: http2.Http2Server;
let session: http2.ClientHttp2Session;
const declined: string[] = [];

before(async () => {
  server = http2.createServer();
  server.on("stream", (stream, headers) => {
    if (refusals.answerStream(stream, headers, path, error)) return;
    declined.push(String(headers["content-type"] ?? headers[":method"]));
    stream.respond({ ":status": 404 }, { endStream: true });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  session = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
after(async () => {
  session?.close();
  await new Promise((resolve) => server?.close(resolve));
});

interface Answer {
  headers: http2.IncomingHttpHeaders;
  trailers: http2.IncomingHttpHeaders | undefined;
  body: Buffer;
}

function call(contentType: string, method = "POST", body = Buffer.alloc(70_000, 1)): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ":method": method, ":path": path, "content-type": contentType });
    let headers: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders | undefined;
    const chunks: Buffer[] = [];
    req.on("response", (h) => {
      headers = h;
    });
    req.on("trailers", (t) => {
      trailers = t;
    });
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("error", reject);
    req.on("close", () => resolve({ headers, trailers, body: Buffer.concat(chunks) }));
    // More than a stream window's worth: the refusal must read it away for the upload to end.
    if (method === "POST") req.end(body);
    else req.end();
  });
}

async function refused(): Promise<number> {
  const { values } = await metrics.rpc.requests.get();
  return values
    .filter((v) => v.labels.method === "Subscribe" && v.labels.code === "resource_exhausted")
    .reduce((n, v) => n + v.value, 0);
}

test("gRPC: trailers-only RESOURCE_EXHAUSTED with the message", async () => {
  const before = await refused();
  for (let i = 0; i < 2; i++) {
    const { headers, body } = await call("application/grpc+proto");
    assert.equal(headers[":status"], 200);
    assert.equal(headers["content-type"], "application/grpc+proto");
    assert.equal(headers["grpc-status"], String(Code.ResourceExhausted));
    assert.equal(decodeURIComponent(String(headers["grpc-message"])), error.rawMessage);
    assert.equal(body.length, 0);
  }
  assert.equal(await refused(), before + 2, "each refusal counted");
});

test("Connect streaming: one end-stream envelope carrying the error", async () => {
  const { headers, body } = await call("application/connect+json");
  assert.equal(headers[":status"], 200);
  assert.equal(headers["content-type"], "application/connect+json");
  assert.equal(body[0], 0b10, "end-stream flag");
  assert.equal(body.readUInt32BE(1), body.length - 5);
  const end = JSON.parse(body.subarray(5).toString()) as { error: { code: string; message: string } };
  assert.deepEqual(end.error, { code: "resource_exhausted", message: error.rawMessage });
});

test("gRPC-Web: one trailer frame", async () => {
  const { headers, body } = await call("application/grpc-web+proto");
  assert.equal(headers["content-type"], "application/grpc-web+proto");
  assert.equal(body[0], 0x80, "trailer flag");
  const trailer = body.subarray(5).toString();
  assert.match(trailer, /grpc-status: ?8/);
});

test("anything it does not answer is left alone", async () => {
  declined.length = 0;
  for (const [contentType, method] of [
    ["application/json", "POST"], // unary Connect
    ["application/grpc-web-text", "POST"],
    ["application/grpc+proto", "GET"],
  ] as const) {
    const { headers } = await call(contentType, method);
    assert.equal(headers[":status"], 404, `${method} ${contentType}`);
  }
  assert.equal(declined.length, 3);
});
