// CORS: browsers of allowed origins may call (preflight answered, responses readable, errors
// included); any other origin gets no CORS headers and its preflight is refused.
import assert from "node:assert/strict";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { ConfigError, loadConfig } from "../../src/config.ts";
import { createCors } from "../../src/cors.ts";
import { createSignedInUser, type SignedInUser } from "../support/auth.ts";
import { startTestServer, type TestServer } from "../support/test-server.ts";

const app = "https://app.example.com";
const admin = "https://admin.example.com";

let server: TestServer;
let alice: SignedInUser;
before(async () => {
  server = await startTestServer({ CORS_ORIGINS: `${app}, ${admin}` });
  alice = await createSignedInUser(server.url, { name: "Alice" });
});
after(async () => {
  await server?.close();
});

const getUser = "/switchboard.v1.UserService/GetUser";

function preflight(baseUrl: string, origin: string, requestHeaders = "authorization, content-type") {
  return fetch(`${baseUrl}${getUser}`, {
    method: "OPTIONS",
    headers: {
      origin,
      "access-control-request-method": "POST",
      "access-control-request-headers": requestHeaders,
    },
  });
}

const list = (value: string | null) => (value ?? "").split(",").map((s) => s.trim().toLowerCase());
const corsHeaders = (res: Response) => {
  const names: string[] = [];
  res.headers.forEach((_, name) => {
    if (name.startsWith("access-control-")) names.push(name);
  });
  return names;
};

describe("an allowed origin", () => {
  for (const origin of [app, admin]) {
    test(`preflight from ${origin}: 204 with the methods and headers Connect, gRPC-Web and bearer tokens need`, async () => {
      const res = await preflight(
        server.url,
        origin,
        "authorization, content-type, connect-protocol-version",
      );
      assert.equal(res.status, 204);
      assert.equal(res.headers.get("access-control-allow-origin"), origin);
      assert.ok(
        list(res.headers.get("vary")).includes("origin"),
        "Vary: Origin, so caches keep origins apart",
      );
      const methods = list(res.headers.get("access-control-allow-methods"));
      assert.ok(methods.includes("post") && methods.includes("get"), methods.join());
      const headers = list(res.headers.get("access-control-allow-headers"));
      for (const h of [
        "authorization",
        "content-type",
        "connect-protocol-version",
        "connect-timeout-ms",
        "grpc-timeout",
        "x-grpc-web",
        "x-user-agent",
      ]) {
        assert.ok(headers.includes(h), `allow-headers lacks ${h}: ${headers.join()}`);
      }
      assert.equal(res.headers.get("access-control-max-age"), "7200");
      assert.equal(
        res.headers.get("access-control-allow-credentials"),
        null,
        "no cookies: tokens are bearer",
      );
      assert.equal(await res.text(), "");
    });
  }

  test("a cross-origin Connect call is readable, its errors too, with the headers a client needs exposed", async () => {
    const call = (token: string | null) =>
      fetch(`${server.url}${getUser}`, {
        method: "POST",
        headers: {
          origin: app,
          "content-type": "application/json",
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: JSON.stringify({ id: alice.user.id }),
      });
    const ok = await call(alice.token);
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get("access-control-allow-origin"), app);
    assert.ok(list(ok.headers.get("vary")).includes("origin"));
    const exposed = list(ok.headers.get("access-control-expose-headers"));
    for (const h of ["grpc-status", "grpc-message", "retry-after", "www-authenticate"]) {
      assert.ok(exposed.includes(h), `expose-headers lacks ${h}: ${exposed.join()}`);
    }
    const denied = await call(null);
    assert.equal(denied.status, 401);
    assert.equal(denied.headers.get("access-control-allow-origin"), app, "the page can read why it failed");
    assert.match(denied.headers.get("www-authenticate") ?? "", /^Bearer/);
    assert.equal(((await denied.json()) as { code: string }).code, "unauthenticated");
  });

  test("a cross-origin gRPC-Web call carries the CORS headers and exposes grpc-status", async () => {
    const res = await fetch(`${server.url}${getUser}`, {
      method: "POST",
      headers: {
        origin: admin,
        "content-type": "application/grpc-web+proto",
        "x-grpc-web": "1",
        authorization: `Bearer ${alice.token}`,
      },
      body: new Uint8Array(5), // an empty GetUserRequest: invalid, answered in trailers
    });
    await res.arrayBuffer();
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("access-control-allow-origin"), admin);
    assert.ok(list(res.headers.get("access-control-expose-headers")).includes("grpc-status"));
  });
});

describe("any other origin", () => {
  const others = [
    "https://evil.example",
    "null", // sandboxed frames and file: pages
    "http://app.example.com", // the same host over plain HTTP
    "https://app.example.com:8443", // another port
    "https://app.example.com.evil.example", // the allowed origin as a prefix
    "https://evilapp.example.com",
    "https://APP.EXAMPLE.COM",
  ];

  test("its preflight is 403 without CORS headers", async () => {
    for (const origin of others) {
      const res = await preflight(server.url, origin);
      assert.equal(res.status, 403, origin);
      assert.deepEqual(corsHeaders(res), [], `${origin}: ${corsHeaders(res).join()}`);
      assert.ok(list(res.headers.get("vary")).includes("origin"), origin);
    }
  });

  test("its calls get no CORS headers, so a browser withholds the answer", async () => {
    for (const origin of others) {
      const res = await fetch(`${server.url}${getUser}`, {
        method: "POST",
        headers: { origin, "content-type": "application/json", authorization: `Bearer ${alice.token}` },
        body: JSON.stringify({ id: alice.user.id }),
      });
      await res.text();
      assert.deepEqual(corsHeaders(res), [], origin);
    }
  });

  test("a request without Origin (not a browser's cross-origin call) gets no CORS headers", async () => {
    const res = await fetch(`${server.url}${getUser}`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${alice.token}` },
      body: JSON.stringify({ id: alice.user.id }),
    });
    assert.equal(res.status, 200);
    await res.text();
    assert.deepEqual(corsHeaders(res), []);
  });
});

describe("CORS_ORIGINS", () => {
  /** A bare HTTP server answering through createCors, as the real handler does. */
  async function corsServer(origins: string[]): Promise<{ url: string; close(): Promise<void> }> {
    const cors = createCors(origins);
    const srv = http.createServer((req, res) => {
      if (!cors(req, res)) res.end("answered");
    });
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    return {
      url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`,
      close: () => new Promise((r) => srv.close(() => r())),
    };
  }

  test('"*" allows any origin, without credentials', async () => {
    const any = await corsServer(["*"]);
    try {
      const res = await preflight(any.url, "https://anywhere.example");
      assert.equal(res.status, 204);
      assert.equal(res.headers.get("access-control-allow-origin"), "*");
      assert.equal(res.headers.get("access-control-allow-credentials"), null);
    } finally {
      await any.close();
    }
  });

  test("empty (the default) allows no other origin", async () => {
    const none = await corsServer([]);
    try {
      const res = await preflight(none.url, app);
      assert.equal(res.status, 403);
      assert.deepEqual(corsHeaders(res), []);
    } finally {
      await none.close();
    }
    assert.deepEqual(loadConfig({}).corsOrigins, []);
  });

  test("entries must be exact origins", () => {
    for (const bad of ["app.example.com", "https://app.example.com/", "https://x.example/path", "ftp://"]) {
      assert.throws(() => loadConfig({ CORS_ORIGINS: bad }), ConfigError, bad);
    }
    assert.deepEqual(loadConfig({ CORS_ORIGINS: ` ${app} ,${admin}` }).corsOrigins, [app, admin]);
  });
});
