import * as http2 from "node:http2";
import type { ConnectError, ContextValues, HandlerContext } from "@connectrpc/connect";
import { createContextKey, createContextValues } from "@connectrpc/connect";
import type { HttpHandler } from "./http-handler.ts";

type NodeRequest = Parameters<HttpHandler>[0];

/** The node request behind a call, for the rare case the RPC layer cannot reach. */
const nodeRequestKey = createContextKey<NodeRequest | undefined>(undefined);

/** Context values for connectNodeAdapter: remembers each call's node request. */
export function callContextValues(req: NodeRequest) {
  return createContextValues().set(nodeRequestKey, req);
}

/**
 * The address a call came from: the peer's, or with `trustProxy` the last hop a proxy in
 * front of this server appended to X-Forwarded-For (earlier entries are the client's word).
 */
export function clientAddress(values: ContextValues, trustProxy: boolean): string {
  const req = values.get(nodeRequestKey);
  if (!req) return "unknown";
  if (trustProxy) {
    const forwarded = req.headers["x-forwarded-for"];
    const last = (Array.isArray(forwarded) ? forwarded.join(",") : forwarded)?.split(",").at(-1)?.trim();
    if (last) return last;
  }
  return req.socket?.remoteAddress ?? "unknown";
}

/** Resets one request: its HTTP/2 stream with ENHANCE_YOUR_CALM, or its HTTP/1.1 connection. */
export function resetRequest(req: NodeRequest): void {
  if ("stream" in req) {
    if (!req.stream.closed) req.stream.close(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
  } else {
    req.socket.destroy();
  }
}

/**
 * Ends a call whose client stopped reading. Its handler is parked in a write that waits for
 * the client, so it cannot answer with an error; resetting the HTTP/2 stream with
 * ENHANCE_YOUR_CALM (which gRPC and Connect clients read as RESOURCE_EXHAUSTED) frees it at
 * once. On HTTP/1.1 the connection is closed: there is no per-request reset.
 */
export function endStalledCall(ctx: HandlerContext, _reason: ConnectError): void {
  const req = ctx.values.get(nodeRequestKey);
  if (req) resetRequest(req);
}
