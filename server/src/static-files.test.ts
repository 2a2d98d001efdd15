import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { createStaticFiles } from "./static-files.ts";

let dir: string;
let base: string;
let close: () => Promise<void>;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "switchboard-static-"));
  mkdirSync(join(dir, "assets"));
  writeFileSync(join(dir, "index.html"), "<!doctype html><title>app</title>");
  writeFileSync(join(dir, "assets", "index-abc123.js"), "console.log(1);");
  writeFileSync(join(dir, "favicon.svg"), "<svg/>");
  writeFileSync(join(tmpdir(), "switchboard-static-secret.txt"), "secret");
  const files = createStaticFiles(dir);
  assert.ok(files);
  // Whatever the static handler leaves alone answers 418, standing in for the RPC router.
  const server = createServer((req, res) => {
    if (files(req, res)) return;
    res.statusCode = 418;
    res.end("next");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  close = () => new Promise((resolve) => server.close(() => resolve()));
});

after(async () => {
  await close();
  rmSync(dir, { recursive: true, force: true });
  rmSync(join(tmpdir(), "switchboard-static-secret.txt"), { force: true });
});

test("index.html at / and for client routes, revalidated on each use", async () => {
  for (const path of ["/", "/users", "/orders", "/chat/general", "/chat/general/"]) {
    const res = await fetch(base + path);
    assert.equal(res.status, 200, path);
    assert.equal(res.headers.get("content-type"), "text/html; charset=utf-8", path);
    assert.equal(res.headers.get("cache-control"), "no-cache", path);
    assert.match(await res.text(), /<title>app<\/title>/, path);
  }
});

test("hashed assets are immutable; other files revalidate; ETag answers 304", async () => {
  const js = await fetch(`${base}/assets/index-abc123.js`);
  assert.equal(js.status, 200);
  assert.equal(js.headers.get("content-type"), "text/javascript; charset=utf-8");
  assert.equal(js.headers.get("cache-control"), "public, max-age=31536000, immutable");
  assert.equal(await js.text(), "console.log(1);");
  const svg = await fetch(`${base}/favicon.svg`);
  assert.equal(svg.headers.get("content-type"), "image/svg+xml");
  assert.equal(svg.headers.get("cache-control"), "no-cache");
  const etag = svg.headers.get("etag");
  assert.ok(etag);
  const again = await fetch(`${base}/favicon.svg`, { headers: { "if-none-match": etag } });
  assert.equal(again.status, 304);
});

test("HEAD sends the headers only", async () => {
  const res = await fetch(`${base}/assets/index-abc123.js`, { method: "HEAD" });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-length"), "15");
  assert.equal(await res.text(), "");
});

test("a missing file with an extension is 404, not the app", async () => {
  const res = await fetch(`${base}/assets/missing-0000.js`);
  assert.equal(res.status, 404);
  assert.equal(res.headers.get("content-type"), "text/plain; charset=utf-8");
});

test("RPC paths and other methods pass through untouched", async () => {
  for (const [method, path] of [
    ["GET", "/switchboard.v1.UserService/GetUser?connect=v1&encoding=json&message=%7B%7D"],
    ["GET", "/grpc.health.v1.Health/Check"],
    ["POST", "/switchboard.v1.UserService/CreateUser"],
    ["POST", "/users"],
    ["PUT", "/"],
  ] as const) {
    const res = await fetch(base + path, { method });
    assert.equal(res.status, 418, `${method} ${path}`);
  }
});

test("paths cannot leave the folder", async () => {
  for (const path of [
    "/../switchboard-static-secret.txt",
    "/%2e%2e/switchboard-static-secret.txt",
    "/..%2fswitchboard-static-secret.txt",
  ]) {
    const { status, body } = await rawGet(path);
    assert.notEqual(body, "secret", path);
    assert.ok(status === 404 || status === 200, `${path}: ${status}`);
  }
});

test("no build, no static files", () => {
  assert.equal(createStaticFiles(join(dir, "nowhere")), undefined);
});

/** A GET with the path exactly as given (fetch would normalize the dots away). */
function rawGet(path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}/`, { path }, (res) => {
      let body = "";
      res.on("data", (chunk) => {
        body += chunk;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}
