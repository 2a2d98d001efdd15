import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { raceIterable } from "./deadline.ts";

/**
 * Graceful shutdown for calls: when `signal` aborts, streams end at once with UNAVAILABLE (their
 * clients reconnect elsewhere and resume from their cursor) and new streams are refused, while
 * unary calls run to completion within the drain time. connect-node's own shutdownSignal
 * cannot tell them apart: it aborts every call, unary ones included.
 */
export function shutdownInterceptor(signal: AbortSignal): Interceptor {
  return (next) => {
    const streaming: typeof next = async (req) => {
      if (signal.aborted) throw unavailable(signal);
      const res = await next(req);
      if (!res.stream) return res;
      return { ...res, message: raceIterable(res.message, signal) };
    };
    // Unary calls go straight on (no async layer of their own: this is on every call's path).
    return (req) => (req.method.methodKind === "unary" ? next(req) : streaming(req));
  };
}

function unavailable(signal: AbortSignal): ConnectError {
  const reason: unknown = signal.reason;
  return reason instanceof ConnectError
    ? reason
    : new ConnectError("the server is shutting down", Code.Unavailable);
}
