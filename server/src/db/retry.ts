import type { CallDeadline } from "./deadline.ts";
import { sqlState } from "./errors.ts";

/** How a transaction that lost a conflict is tried again. */
export interface RetryPolicy {
  /** Tries in all, the first included. */
  attempts: number;
  /** Backoff before the second try; it doubles with each further try, up to maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** [0, 1); Math.random unless a test fixes it. */
  random?: () => number;
}

/**
 * Serialization failures and deadlocks: PostgreSQL rolled the whole transaction back and
 * says that running it again may well succeed. Nothing else is retried here: a lost
 * connection may have committed, and a constraint violation will fail again.
 */
export function isRetryableConflict(err: unknown): boolean {
  const state = sqlState(err);
  return state === "40001" || state === "40P01";
}

export const defaultRetryPolicy: RetryPolicy = { attempts: 3, baseDelayMs: 20, maxDelayMs: 250 };

/**
 * Runs `attempt` until it succeeds, fails with something other than a conflict, or the
 * policy's tries are used up; then the last error is thrown as it is (toConnectError makes a
 * conflict ABORTED). Backoff is "full jitter" (a random wait up to the exponential step), so
 * the transactions that collided do not collide again in step. A retry never outlives the
 * call: if the wait would reach its deadline, or the call has ended, the conflict is the answer.
 */
export async function retryConflicts<T>(
  call: CallDeadline,
  attempt: (n: number) => Promise<T>,
  policy: RetryPolicy = defaultRetryPolicy,
): Promise<T> {
  const random = policy.random ?? Math.random;
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (err) {
      if (n >= policy.attempts || !isRetryableConflict(err) || call.signal.aborted) throw err;
      const step = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (n - 1));
      const delay = Math.round(random() * step);
      const left = call.timeoutMs();
      // Leave the next try time for a statement at least as long as the wait itself.
      if (left !== undefined && delay * 2 >= left) throw err;
      if (!(await sleep(delay, call.signal))) throw err;
    }
  }
}

/** Resolves true after `ms`, or false as soon as `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (slept: boolean) => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      resolve(slept);
    };
    const onAbort = () => done(false);
    const timer = setTimeout(() => done(true), ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
