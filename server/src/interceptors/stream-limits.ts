import type * as http2 from "node:http2";
import { Code, ConnectError, type ContextValues, type Interceptor } from "@connectrpc/connect";
import { isAdmin, principalKey } from "../auth/principal.ts";
import { type CallOrigin, callContextValues, requestOrigin } from "../call-control.ts";
import { streamExchange } from "../fast-unary/exchange.ts";
import type { HttpHandler } from "../http-handler.ts";
import type { Refusals } from "../refusal-response.ts";
import { observeCalls } from "./call-end.ts";

type NodeRequest = Parameters<HttpHandler>[0];
type NodeResponse = Parameters<HttpHandler>[1];

export interface StreamLimits {
  /** Open streams one signed-in user may hold across all connections (admins exempt); 0: no limit. */
  perUser: number;
  /** Open streams one client address may hold, signed in or not; 0: no limit. */
  perAddress: number;
  addressOf: (values: ContextValues) => string;
}

export interface StreamLimiter {
  /** Counts streams as they open and close, and refuses those over a cap. */
  readonly interceptor: Interceptor;
  /**
   * Answers a new stream from an address already at its cap with RESOURCE_EXHAUSTED before the
   * call is built (no body read, no interceptors): true when it answered. The interceptor still
   * refuses what gets past this (a user over their own cap, streams racing to the last slot).
   */
  refuseEarly(req: NodeRequest, res: NodeResponse): boolean;
  /** The same for a bare HTTP/2 stream as it arrives, before any request object is made of it. */
  refuseEarlyStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): boolean;
}

/**
 * Caps the streams one user and one address hold open on this instance, so a client cannot
 * park thousands of idle subscriptions (HTTP/2's MAX_CONCURRENT_STREAMS caps one connection,
 * not many). A stream over the cap is refused with RESOURCE_EXHAUSTED before it starts.
 */
export function createStreamLimiter(limits: StreamLimits & { refusals?: Refusals }): StreamLimiter {
  const byUser = new Map<string, number>();
  const byAddress = new Map<string, number>();
  // Request paths of the streaming methods, learnt from the calls the interceptor sees: the
  // early refusal tells a stream from a unary call by its path alone.
  const streamingPaths = new Set<string>();
  const overCap = (who: string, max: number) =>
    new ConnectError(`too many open streams for ${who} (at most ${max})`, Code.ResourceExhausted);
  const enter = (counts: Map<string, number>, key: string, max: number, who: string) => {
    const n = counts.get(key) ?? 0;
    if (n >= max) throw overCap(who, max);
    counts.set(key, n + 1);
  };
  const leave = (counts: Map<string, number>, key: string) => {
    const n = (counts.get(key) ?? 1) - 1;
    if (n <= 0) counts.delete(key);
    else counts.set(key, n);
  };
  const observed = observeCalls((req) => {
    streamingPaths.add(`/${req.service.typeName}/${req.method.name}`);
    const principal = req.contextValues.get(principalKey);
    const user = limits.perUser > 0 && principal && !isAdmin(principal) ? principal.userId : undefined;
    const address = limits.perAddress > 0 ? limits.addressOf(req.contextValues) : undefined;
    if (address !== undefined) enter(byAddress, address, limits.perAddress, "this address");
    if (user !== undefined) {
      try {
        enter(byUser, user, limits.perUser, "this user");
      } catch (err) {
        if (address !== undefined) leave(byAddress, address);
        throw err;
      }
    }
    return () => {
      if (address !== undefined) leave(byAddress, address);
      if (user !== undefined) leave(byUser, user);
    };
  });
  // Unary calls are not counted, and go straight on (no layer of their own on their path).
  const interceptor: Interceptor = (next) => {
    const streams = observed(next);
    return (req) => (req.method.methodKind === "unary" ? next(req) : streams(req));
  };
  // One error for every early refusal (it is never thrown through the interceptors, whose
  // calls may add to an error's metadata): its answer's bytes are made once (refusal-response.ts).
  const addressCap = overCap("this address", limits.perAddress);
  /** The request's path when it opens a stream and early refusals are on, else undefined. */
  const streamingPath = (url: string | undefined): string | undefined => {
    if (!limits.refusals || limits.perAddress <= 0 || byAddress.size === 0) return undefined;
    const raw = url ?? "";
    const query = raw.indexOf("?");
    const path = query < 0 ? raw : raw.slice(0, query);
    return streamingPaths.has(path) ? path : undefined;
  };
  const atCap = (origin: CallOrigin) =>
    (byAddress.get(limits.addressOf(callContextValues(origin))) ?? 0) >= limits.perAddress;
  return {
    interceptor,
    refuseEarly(req, res) {
      const path = streamingPath(req.url);
      if (path === undefined || !atCap(requestOrigin(req))) return false;
      return limits.refusals?.answer(req, res, path, addressCap) ?? false;
    },
    refuseEarlyStream(stream, headers) {
      const path = streamingPath(headers[":path"]);
      if (path === undefined || !atCap(streamExchange(stream, headers))) return false;
      return limits.refusals?.answerStream(stream, headers, path, addressCap) ?? false;
    },
  };
}

/** The interceptor alone, for a server that does not refuse early. */
export function streamLimitInterceptor(limits: StreamLimits): Interceptor {
  return createStreamLimiter(limits).interceptor;
}
