import type { IncomingHttpHeaders } from "node:http";
import { cors } from "@connectrpc/connect";
import type { HttpHandler } from "./http-handler.ts";

type NodeRequest = Parameters<HttpHandler>[0];
type NodeResponse = Parameters<HttpHandler>[1];

/**
 * CORS for the browsers of other origins on the allow-list (CORS_ORIGINS). The methods and
 * headers are Connect's own list for its protocols and gRPC-Web (`cors` from
 * @connectrpc/connect), plus Authorization, which carries the bearer token. Bearer tokens
 * are never sent by a browser on its own, so credentials (cookies) are not allowed.
 */
const allowHeaders = [...cors.allowedHeaders, "Authorization"].join(", ");
const allowMethods = cors.allowedMethods.join(", ");
const exposeHeaders = [...cors.exposedHeaders, "Retry-After", "WWW-Authenticate"].join(", ");
/** How long a browser may cache a preflight answer: 2 hours, Chromium's cap. */
const maxAgeSeconds = 7200;

/**
 * Returns a function that sets CORS headers for an allowed cross-origin request and answers
 * its preflight; it returns true when it has answered (a preflight) and the request is done.
 * A disallowed origin gets no CORS headers, so the browser withholds the response from the
 * page; its preflight is answered 403.
 */
export function createCors(
  allowedOrigins: readonly string[],
): (req: NodeRequest, res: NodeResponse) => boolean {
  const any = allowedOrigins.includes("*");
  const allowed = new Set(allowedOrigins);
  return (req, res) => {
    const origin = header(req.headers, "origin");
    const preflight =
      req.method === "OPTIONS" && header(req.headers, "access-control-request-method") !== undefined;
    if (origin === undefined) return false;
    res.setHeader("vary", "Origin");
    if (!any && !allowed.has(origin)) {
      if (!preflight) return false;
      res.statusCode = 403;
      res.end();
      return true;
    }
    res.setHeader("access-control-allow-origin", any ? "*" : origin);
    if (!preflight) {
      res.setHeader("access-control-expose-headers", exposeHeaders);
      return false;
    }
    res.setHeader("access-control-allow-methods", allowMethods);
    res.setHeader("access-control-allow-headers", allowHeaders);
    res.setHeader("access-control-max-age", String(maxAgeSeconds));
    res.statusCode = 204;
    res.end();
    return true;
  };
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}
