// HTTP/1.1 pipelining: a client may send many requests on one connection before reading any
// answer, and one read on the server delivers them together. They start through the fair
// dispatcher (server/src/fair-dispatch.ts) a share per turn; every one is answered, in the
// order sent, whichever path serves it (the unary fast path, connect-node, a probe).
import assert from "node:assert/strict";
import * as net from "node:net";
import { after, before, test } from "node:test";
import { testAdminToken } from "./support/auth.ts";
import { startTestServer, type TestServer } from "./support/test-server.ts";

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server?.close();
});

function rpc(path: string, body: string, requestId: string): string {
  return [
    `POST ${path} HTTP/1.1`,
    "Host: localhost",
    "Content-Type: application/json",
    "Connect-Protocol-Version: 1",
    `Authorization: Bearer ${testAdminToken}`,
    `X-Request-Id: ${requestId}`,
    `Content-Length: ${Buffer.byteLength(body)}`,
    "",
    body,
  ].join("\r\n");
}

test("pipelined requests on one connection are all answered, in the order sent", async () => {
  const requests: { wire: string; expect: RegExp }[] = [];
  for (let i = 0; i < 30; i++) {
    if (i % 3 === 0) {
      // The fast path: GetUser of an unknown user, NOT_FOUND (404) with its request id.
      requests.push({
        wire: rpc(
          "/switchboard.v1.UserService/GetUser",
          '{"id":"01890000-0000-7000-8000-000000000000"}',
          `pipelined-${i}`,
        ),
        expect: new RegExp(`^HTTP/1.1 404[\\s\\S]*x-request-id: pipelined-${i}\\r\\n`, "i"),
      });
    } else if (i % 3 === 1) {
      // connect-node: a Connect GET (the fast path takes POST only).
      const message = encodeURIComponent('{"id":"01890000-0000-7000-8000-000000000000"}');
      requests.push({
        wire: [
          `GET /switchboard.v1.UserService/GetUser?connect=v1&encoding=json&message=${message} HTTP/1.1`,
          "Host: localhost",
          `Authorization: Bearer ${testAdminToken}`,
          `X-Request-Id: pipelined-${i}`,
          "",
          "",
        ].join("\r\n"),
        expect: new RegExp(`^HTTP/1.1 404[\\s\\S]*x-request-id: pipelined-${i}\\r\\n`, "i"),
      });
    } else {
      requests.push({
        wire: "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n",
        expect: /^HTTP\/1.1 200[\s\S]*\r\n\r\nok\n$/,
      });
    }
  }
  const socket = net.connect(server.port, "127.0.0.1");
  let received = "";
  socket.setEncoding("utf8");
  socket.on("data", (d: string) => {
    received += d;
  });
  // All of them in one write: one read on the server delivers them together.
  socket.write(requests.map((r) => r.wire).join(""));
  const answers = await new Promise<string[]>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out with:\n${received}`)), 10_000);
    socket.on("data", () => {
      const parts = splitResponses(received);
      if (parts.length >= requests.length) {
        clearTimeout(timer);
        resolve(parts);
      }
    });
  });
  socket.destroy();
  assert.equal(answers.length, requests.length);
  answers.forEach((answer, i) => {
    assert.match(answer, requests[i]?.expect ?? /x/, `answer ${i}: ${answer}`);
  });
});

/** Complete responses in `text` (each with a Content-Length body). */
function splitResponses(text: string): string[] {
  const out: string[] = [];
  let at = 0;
  for (;;) {
    const head = text.indexOf("\r\n\r\n", at);
    if (head < 0) break;
    const length = Number(/\r\ncontent-length: (\d+)/i.exec(text.slice(at, head))?.[1] ?? 0);
    const end = head + 4 + length;
    if (end > text.length) break;
    out.push(text.slice(at, end));
    at = end;
  }
  return out;
}
