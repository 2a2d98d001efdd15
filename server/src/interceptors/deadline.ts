import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";

/**
 * Ends a call when its deadline (grpc-timeout, connect-timeout-ms) passes, even while the
 * handler is still busy. connect-node aborts the handler's signal but then waits for the
 * handler to return; here the call answers DEADLINE_EXCEEDED at once and the handler's late
 * result is dropped. Its database work is cut off by withDeadline (statement_timeout).
 */
export function deadlineInterceptor(): Interceptor {
  return (next) => async (req) => {
    const signal = req.signal;
    const res = await raceSignal(next(req), signal);
    if (!res.stream) return res;
    return { ...res, message: raceIterable(res.message, signal) };
  };
}

function abortError(signal: AbortSignal): ConnectError {
  const reason: unknown = signal.reason;
  if (reason instanceof ConnectError) return reason;
  return new ConnectError("the call was cancelled", Code.Canceled, undefined, undefined, reason);
}

/** Settles with `promise`, or rejects as soon as `signal` aborts. */
export function raceSignal<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => {});
    return Promise.reject(abortError(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortError(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}

/**
 * Yields from `source` until `signal` aborts, then throws and closes the source. The source
 * is closed on abort even while the consumer is parked: connect-node's write to a client that
 * stopped reading may never settle, and the source's resources (database pages, bus
 * subscriptions) must not wait for it.
 *
 * One abort listener per stream, not one per message: the shutdown signal is shared by every
 * stream, and adding or removing a listener walks its whole list (16 µs each with a thousand
 * streams open, measured), which a live stream would otherwise pay twice per write.
 */
export async function* raceIterable<T>(source: AsyncIterable<T>, signal: AbortSignal): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]();
  let done = false;
  const close = () => {
    if (done) return;
    done = true;
    // return() on a generator still awaiting its previous next() queues behind it; don't wait.
    void it.return?.()?.catch(() => {});
  };
  // The pending next() rejects the moment the signal aborts. (Racing each next() against one
  // long-lived promise instead would leave a reaction on it per message, for the stream's life.)
  let interrupt: ((err: ConnectError) => void) | undefined;
  const onAbort = () => {
    interrupt?.(abortError(signal));
    close();
  };
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    for (;;) {
      if (signal.aborted) throw abortError(signal);
      const r = await new Promise<IteratorResult<T>>((resolve, reject) => {
        interrupt = reject;
        it.next().then(resolve, reject);
      });
      interrupt = undefined;
      if (r.done) {
        done = true;
        return;
      }
      yield r.value;
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
    close();
  }
}
