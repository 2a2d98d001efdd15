import type { Interceptor } from "@connectrpc/connect";

/** Counts calls in progress: streams stay counted until their last message or their end. */
export interface OpenCalls {
  readonly interceptor: Interceptor;
  /** Calls in progress now, streaming ones included. */
  count(): number;
  /** Of those, the streaming ones (server, client and bidi). */
  streams(): number;
}

/**
 * A call leaves the count when its response completes or when it is aborted (the client went
 * away, the deadline passed, the server shut down), whichever comes first, so a stream parked
 * on a client that stopped reading is not counted as open once that client is gone.
 */
export function createOpenCalls(): OpenCalls {
  let open = 0;
  let streams = 0;
  const interceptor: Interceptor = (next) => async (req) => {
    const streaming = req.method.methodKind !== "unary";
    open++;
    if (!streaming) {
      // Unary: over when `next` settles, which the deadline interceptor (inside) makes happen
      // as soon as the call is aborted; no abort listener needed (see call-end.ts).
      try {
        return await next(req);
      } finally {
        open--;
      }
    }
    streams++;
    let counted = true;
    const leave = () => {
      if (!counted) return;
      counted = false;
      open--;
      if (streaming) streams--;
      req.signal.removeEventListener("abort", leave);
    };
    req.signal.addEventListener("abort", leave);
    let res: Awaited<ReturnType<typeof next>>;
    try {
      res = await next(req);
    } catch (err) {
      leave();
      throw err;
    }
    if (!res.stream) {
      leave();
      return res;
    }
    const source = res.message;
    return {
      ...res,
      message: (async function* () {
        try {
          yield* source;
        } finally {
          leave();
        }
      })(),
    };
  };
  return { interceptor, count: () => open, streams: () => streams };
}
