import * as http2 from "node:http2";
import type { ConnectError, HandlerContext } from "@connectrpc/connect";
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
 * Ends a call whose client stopped reading. Its handler is parked in a write that waits for
 * the client, so it cannot answer with an error; resetting the HTTP/2 stream with
 * ENHANCE_YOUR_CALM (which gRPC and Connect clients read as RESOURCE_EXHAUSTED) frees it at
 * once. On HTTP/1.1 the connection is closed: there is no per-request reset.
 */
export function endStalledCall(ctx: HandlerContext, _reason: ConnectError): void {
  const req = ctx.values.get(nodeRequestKey);
  if (!req) return;
  if ("stream" in req) {
    if (!req.stream.closed) req.stream.close(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
  } else {
    req.socket.destroy();
  }
}
