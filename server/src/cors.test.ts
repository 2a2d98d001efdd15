import assert from "node:assert/strict";
import type * as http from "node:http";
import { test } from "node:test";
import { cors } from "@connectrpc/connect";
import { createCors } from "./cors.ts";

/** A minimal request/response pair: what createCors reads and writes. */
function exchange(method: string, headers: Record<string, string>) {
  const out = { status: 200, headers: new Map<string, string>(), ended: false };
  const req = { method, headers } as unknown as http.IncomingMessage;
  const res = {
    set statusCode(v: number) {
      out.status = v;
    },
    setHeader(name: string, value: string) {
      out.headers.set(name.toLowerCase(), value);
    },
    end() {
      out.ended = true;
    },
  } as unknown as http.ServerResponse;
  return { req, res, out };
}

const allowed = "https://app.example.com";
const preflight = (origin: string) =>
  exchange("OPTIONS", {
    origin,
    "access-control-request-method": "POST",
    "access-control-request-headers": "content-type,authorization,connect-protocol-version",
  });

test("a preflight from an allowed origin gets Connect's methods and headers plus Authorization", () => {
  const handle = createCors([allowed]);
  const { req, res, out } = preflight(allowed);
  assert.equal(handle(req, res), true);
  assert.equal(out.status, 204);
  assert.equal(out.headers.get("access-control-allow-origin"), allowed);
  const methods = out.headers.get("access-control-allow-methods")?.split(", ") ?? [];
  for (const m of cors.allowedMethods) assert.ok(methods.includes(m), m);
  const headers = out.headers.get("access-control-allow-headers")?.split(", ") ?? [];
  for (const h of [...cors.allowedHeaders, "Authorization"]) assert.ok(headers.includes(h), h);
  assert.equal(out.headers.get("vary"), "Origin");
  assert.ok(Number(out.headers.get("access-control-max-age")) > 0);
});

test("a preflight from an origin not on the list is refused without CORS headers", () => {
  const handle = createCors([allowed]);
  const { req, res, out } = preflight("https://evil.example.net");
  assert.equal(handle(req, res), true);
  assert.equal(out.status, 403);
  assert.equal(out.headers.has("access-control-allow-origin"), false);
});

test("an allowed cross-origin call passes on with the origin echoed and headers exposed", () => {
  const handle = createCors([allowed]);
  const { req, res, out } = exchange("POST", { origin: allowed });
  assert.equal(handle(req, res), false, "the RPC still runs");
  assert.equal(out.headers.get("access-control-allow-origin"), allowed);
  const exposed = out.headers.get("access-control-expose-headers")?.split(", ") ?? [];
  for (const h of cors.exposedHeaders) assert.ok(exposed.includes(h), h);
});

test("same-origin and non-browser calls (no Origin) are untouched", () => {
  const handle = createCors([]);
  const { req, res, out } = exchange("POST", {});
  assert.equal(handle(req, res), false);
  assert.equal(out.headers.size, 0);
});

test('"*" allows any origin, without credentials', () => {
  const handle = createCors(["*"]);
  const { req, res, out } = preflight("https://anywhere.example.org");
  assert.equal(handle(req, res), true);
  assert.equal(out.status, 204);
  assert.equal(out.headers.get("access-control-allow-origin"), "*");
  assert.equal(out.headers.has("access-control-allow-credentials"), false);
});
