import * as http2 from "node:http2";
import type { ConnectError, ContextKey, ContextValues, HandlerContext } from "@connectrpc/connect";
import { createContextKey } from "@connectrpc/connect";
import type { HttpHandler } from "./http-handler.ts";

type NodeRequest = Parameters<HttpHandler>[0];

/**
 * Where a call came from, for what the RPC layer cannot reach: the client's address, and
 * a way to cut the call off at the transport. A call arrives either as a node request
 * (HTTP/1.1, or HTTP/2 through node's compatibility layer) or as a bare HTTP/2 stream (the
 * unary fast path, whose exchanges are origins themselves), so this is the one shape both give.
 */
export interface CallOrigin {
  readonly headers: http2.IncomingHttpHeaders;
  readonly remoteAddress: string | undefined;
  /** Resets the call: its HTTP/2 stream with ENHANCE_YOUR_CALM, or its HTTP/1.1 connection. */
  reset(): void;
}

class RequestOrigin implements CallOrigin {
  readonly req: NodeRequest;
  constructor(req: NodeRequest) {
    this.req = req;
  }
  get headers() {
    return this.req.headers;
  }
  get remoteAddress() {
    return this.req.socket?.remoteAddress;
  }
  reset() {
    resetRequest(this.req);
  }
}

/** The origin of a call that came as a node request. */
export function requestOrigin(req: NodeRequest): CallOrigin {
  return new RequestOrigin(req);
}

const originKey = createContextKey<CallOrigin | undefined>(undefined);

/** Context values for a call: remembers where it came from. */
export function callContextValues(origin: CallOrigin): ContextValues {
  return new CallValues().set(originKey, origin);
}

/**
 * connect's ContextValues as a class: its createContextValues() builds three new method
 * closures for every call; these are shared. Same semantics: a key's value, else its default.
 */
class CallValues implements ContextValues {
  get<T>(key: ContextKey<T>): T {
    const values = this as unknown as Record<symbol, T>;
    return key.id in values ? (values[key.id] as T) : key.defaultValue;
  }

  set<T>(key: ContextKey<T>, value: T): this {
    (this as unknown as Record<symbol, T>)[key.id] = value;
    return this;
  }

  delete(key: ContextKey<unknown>): this {
    delete (this as unknown as Record<symbol, unknown>)[key.id];
    return this;
  }
}

/**
 * The address a call came from: the peer's, or with `trustProxy` the last hop a proxy in
 * front of this server appended to X-Forwarded-For (earlier entries are the client's word).
 */
export function clientAddress(values: ContextValues, trustProxy: boolean): string {
  const origin = values.get(originKey);
  if (!origin) return "unknown";
  if (trustProxy) {
    const forwarded = origin.headers["x-forwarded-for"];
    const last = (Array.isArray(forwarded) ? forwarded.join(",") : forwarded)?.split(",").at(-1)?.trim();
    if (last) return last;
  }
  return origin.remoteAddress ?? "unknown";
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
  ctx.values.get(originKey)?.reset();
}
