import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { isAdmin, principalKey } from "../auth/principal.ts";

export interface UserCallLimits {
  /** Unary calls one signed-in user may have running at once (admins exempt); 0: no limit. */
  perUser: number;
  /** Calls of one user that may wait for a turn beyond those; past it, RESOURCE_EXHAUSTED. */
  queued: number;
}

interface UserCalls {
  running: number;
  /** Each waiting call's start, in arrival order. */
  waiting: (() => void)[];
}

/**
 * At most `perUser` unary calls of one signed-in user run at once; the user's next calls wait
 * in a queue of their own, and a call past `queued` waiting is RESOURCE_EXHAUSTED. Most calls
 * reach the database, so a user flooding reads (an IDOR sweep through GetOrder, say: each a
 * query, each NOT_FOUND) holds at most `perUser` of the pool's connections, and other users'
 * queries no longer wait behind the flood in the pool's queue. A call waits before it runs:
 * one that ends while waiting (client gone, deadline) leaves the queue without running.
 * Streams have caps of their own (stream-limits.ts); admins and the operator's token are
 * exempt, as scripts and CI drive the service through them.
 */
export function userCallLimitInterceptor(limits: UserCallLimits): Interceptor {
  if (limits.perUser <= 0) return (next) => next;
  const users = new Map<string, UserCalls>();
  const full = `too many calls in progress for this user (at most ${limits.perUser} at once, ${limits.queued} waiting)`;
  /** A finished call hands its turn to the user's next waiting call, if any. */
  const release = (userId: string, calls: UserCalls) => {
    const next = calls.waiting.shift();
    if (next) {
      next();
      return;
    }
    calls.running--;
    if (calls.running === 0) users.delete(userId);
  };
  return (next) => (req) => {
    if (req.stream) return next(req);
    const principal = req.contextValues.get(principalKey);
    const userId = principal && !isAdmin(principal) ? principal.userId : undefined;
    if (userId === undefined) return next(req);
    let calls = users.get(userId);
    if (!calls) {
      calls = { running: 0, waiting: [] };
      users.set(userId, calls);
    }
    const mine = calls;
    const run = () => {
      let response: ReturnType<typeof next>;
      try {
        response = next(req);
      } catch (err) {
        release(userId, mine);
        throw err;
      }
      return response.finally(() => release(userId, mine));
    };
    if (mine.running < limits.perUser) {
      mine.running++;
      return run();
    }
    if (mine.waiting.length >= limits.queued) {
      // A fresh error per call: interceptors outside may add to its metadata.
      return Promise.reject(new ConnectError(full, Code.ResourceExhausted));
    }
    return new Promise((resolve, reject) => {
      const start = () => {
        req.signal.removeEventListener("abort", leave);
        run().then(resolve, reject);
      };
      const leave = () => {
        const at = mine.waiting.indexOf(start);
        if (at >= 0) mine.waiting.splice(at, 1);
        const reason: unknown = req.signal.reason;
        reject(
          reason instanceof ConnectError ? reason : new ConnectError("the call has ended", Code.Canceled),
        );
      };
      mine.waiting.push(start);
      req.signal.addEventListener("abort", leave, { once: true });
    });
  };
}
