import { createReadStream, existsSync } from "node:fs";
import { stat } from "node:fs/promises";
import type * as http from "node:http";
import { extname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type { HttpHandler } from "./http-handler.ts";

/** Where `npm start` (scripts/build-web.ts) puts the built dashboard. */
export const webDist = fileURLToPath(new URL("../../web/dist", import.meta.url));

/** Answers a request and returns true, or returns false to leave it to the next handler. */
export type StaticFiles = (...args: Parameters<HttpHandler>) => boolean;

const contentTypes: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
  ".webmanifest": "application/manifest+json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".ico": "image/x-icon",
  ".webp": "image/webp",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
};

/** Vite names every file under assets/ after a hash of its content: it never changes. */
const immutable = "public, max-age=31536000, immutable";
/** Everything else (index.html above all) is checked with the server on each use. */
const revalidate = "no-cache";

/**
 * An RPC path is /<package.Service>/<Method>: a fully qualified service name always has a dot
 * in its first segment, and nothing the dashboard serves does (assets/…, favicon.svg, routes).
 */
function isRpcPath(path: string): boolean {
  return /^\/[^/]*\.[^/]*\/[^/]+$/.test(path);
}

/**
 * The dashboard, served from `root` (web/dist) beside the RPCs: GET and HEAD only; never an
 * RPC path; a file that exists is sent with its content type and cache policy; any other
 * path without an extension is a client route (/users, /orders, /chat/general) and gets
 * index.html, so routes survive a reload. Undefined when `root` does not exist (no build).
 */
export function createStaticFiles(root: string): StaticFiles | undefined {
  if (!existsSync(join(root, "index.html"))) return undefined;
  const base = resolve(root) + sep;
  return (req, response) => {
    if (req.method !== "GET" && req.method !== "HEAD") return false;
    let pathname: string;
    let path: string;
    try {
      pathname = new URL(req.url ?? "/", "http://localhost").pathname;
      path = decodeURIComponent(pathname);
    } catch {
      return false;
    }
    // RPC routing matches the raw path, so this check does too.
    if (isRpcPath(pathname) || path.includes("\0")) return false;
    const file = resolve(base, `.${path}`);
    // Both response kinds share these methods; the union type hides it (as in fallback.ts).
    const res = response as http.ServerResponse;
    void send(req.method === "HEAD", file.startsWith(base) ? file : undefined, path, base, req, res);
    return true;
  };
}

async function send(
  headOnly: boolean,
  file: string | undefined,
  path: string,
  base: string,
  req: Parameters<HttpHandler>[0],
  res: http.ServerResponse,
): Promise<void> {
  try {
    let target = file && (await fileStat(file)) ? file : undefined;
    if (!target && extname(path) === "") target = join(base, "index.html");
    const info = target && (await fileStat(target));
    if (!target || !info) {
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8", "cache-control": revalidate });
      res.end("not found\n");
      return;
    }
    const etag = `W/"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`;
    const headers = {
      "content-type": contentTypes[extname(target)] ?? "application/octet-stream",
      "cache-control": target.startsWith(join(base, "assets") + sep) ? immutable : revalidate,
      etag,
      "x-content-type-options": "nosniff",
    };
    if (req.headers["if-none-match"] === etag) {
      res.writeHead(304, headers);
      res.end();
      return;
    }
    res.writeHead(200, { ...headers, "content-length": String(info.size) });
    if (headOnly) {
      res.end();
      return;
    }
    createReadStream(target)
      .on("error", () => res.destroy())
      .pipe(res);
  } catch {
    if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain; charset=utf-8" });
    res.end();
  }
}

async function fileStat(path: string) {
  try {
    const info = await stat(path);
    return info.isFile() ? info : undefined;
  } catch {
    return undefined;
  }
}
