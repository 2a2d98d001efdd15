// One port: HTTP/1.1, h2c with prior knowledge and TLS with ALPN, and protocol-correct
// answers for what does not exist.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import * as http2 from "node:http2";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { UserService } from "../../gen/switchboard/v1/user_pb.js";
import { bearer, testAdminToken } from "./support/auth.ts";
import { startTestServer, type TestServer } from "./support/test-server.ts";

/** Sends one HTTP/2 request with prior knowledge and returns status, headers and trailers. */
function h2Request(url: string, path: string, headers: http2.OutgoingHttpHeaders, body = Buffer.alloc(0)) {
  return new Promise<{ headers: http2.IncomingHttpHeaders; trailers: http2.IncomingHttpHeaders }>(
    (resolve, reject) => {
      const session = http2.connect(url);
      session.on("error", reject);
      const req = session.request({ ":method": "POST", ":path": path, ...headers });
      let resHeaders: http2.IncomingHttpHeaders = {};
      let trailers: http2.IncomingHttpHeaders = {};
      req.on("response", (h) => {
        resHeaders = h;
      });
      req.on("trailers", (t) => {
        trailers = t;
      });
      req.on("error", reject);
      req.resume();
      req.on("end", () => {
        session.close();
        resolve({ headers: resHeaders, trailers });
      });
      req.end(body);
    },
  );
}

describe("cleartext", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ HEADERS_TIMEOUT_MS: "300" });
  });
  after(async () => {
    await server?.close();
  });

  test("HTTP/1.1 and h2c share the port", async () => {
    const h1 = await fetch(`${server.url}/healthz`);
    assert.equal(h1.status, 200);
    const res = await h2Request(
      server.url,
      "/switchboard.v1.UserService/GetUser",
      {
        "content-type": "application/json",
        authorization: `Bearer ${testAdminToken}`,
      },
      Buffer.from('{"id":"00000000-0000-7000-8000-000000000000"}'),
    );
    assert.equal(res.headers[":status"], 404);
    assert.equal(res.headers["content-type"], "application/json");
  });

  test("an unknown gRPC method is grpc-status 12, not a bare 404", async () => {
    const res = await h2Request(server.url, "/switchboard.v1.UserService/Nope", {
      "content-type": "application/grpc",
      te: "trailers",
    });
    assert.equal(res.headers[":status"], 200);
    // Trailers-only response: the status rides in the only HEADERS frame.
    assert.equal(res.headers["grpc-status"] ?? res.trailers["grpc-status"], "12");
  });

  test("an unknown gRPC-Web or Connect method answers in that protocol", async () => {
    const web = await fetch(`${server.url}/no.Such/Method`, {
      method: "POST",
      headers: { "content-type": "application/grpc-web+proto" },
      body: new Uint8Array(5),
    });
    assert.equal(web.status, 200);
    assert.equal(web.headers.get("grpc-status"), "12");
    const connect = await fetch(`${server.url}/no.Such/Method`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    assert.equal(connect.status, 404);
    assert.deepEqual(((await connect.json()) as { code: string }).code, "unimplemented");
  });

  test("a connection that sends nothing is closed after the headers timeout", { timeout: 5000 }, async () => {
    const socket = net.connect(server.port, "127.0.0.1");
    const closed = await new Promise<boolean>((resolve) => {
      socket.on("close", () => resolve(true));
      socket.on("error", () => {});
    });
    assert.equal(closed, true);
  });
});

describe("TLS", () => {
  let server: TestServer;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "switchboard-tls-"));
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        join(dir, "key.pem"),
        "-out",
        join(dir, "cert.pem"),
        "-days",
        "1",
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
      ],
      { stdio: "ignore" },
    );
    server = await startTestServer({ TLS_CERT: join(dir, "cert.pem"), TLS_KEY: join(dir, "key.pem") });
  });
  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("ALPN offers h2 and http/1.1, and RPCs work over both", async () => {
    const previous = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0";
    try {
      for (const httpVersion of ["2", "1.1"] as const) {
        const client = createClient(
          UserService,
          createConnectTransport({
            baseUrl: server.url,
            httpVersion,
            nodeOptions: { rejectUnauthorized: false },
            interceptors: [bearer(testAdminToken)],
          }),
        );
        const { user } = await client.createUser({
          name: "Tls",
          email: `tls-${httpVersion}@example.com`,
          age: 3,
        });
        assert.equal(user?.name, "Tls");
      }
      const session = http2.connect(server.url, { rejectUnauthorized: false });
      const alpn = await new Promise<string | false | undefined>((resolve) =>
        session.on("connect", () => resolve(session.alpnProtocol)),
      );
      session.close();
      assert.equal(alpn, "h2");
    } finally {
      if (previous === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
      else process.env.NODE_TLS_REJECT_UNAUTHORIZED = previous;
    }
  });
});
