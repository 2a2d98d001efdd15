import type { Logger } from "./logger.ts";

/** What the server can promise right now; the health service maps it onto grpc.health.v1. */
export type ServingStatus = "SERVING" | "NOT_SERVING";

/**
 * One answer to "can this instance do its work?", shared by the health service and /readyz so
 * they never disagree. It is refreshed by a periodic probe rather than per request: a load
 * balancer polling /readyz or a fleet of Watch streams then costs the database nothing extra.
 */
export interface HealthMonitor {
  /** The status of the last probe; NOT_SERVING for good once shutdown has begun. */
  status(): ServingStatus;
  /** True once shutdown has begun: the status will not change again. */
  isShuttingDown(): boolean;
  /**
   * The optional dependencies (HealthMonitorOptions.optional) whose last probe failed: the
   * instance still serves, with less (e.g. "events": live streams poll the table instead of
   * hearing the bus). Empty when all is well.
   */
  degraded(): readonly string[];
  /** The names of all optional dependencies, degraded or not. */
  optional(): readonly string[];
  /**
   * Calls `listener` after every change of status or of degraded() and when shutdown begins. Returns the
   * unsubscribe function. Shutdown waits for subscribers to unsubscribe, so a subscriber
   * should do so once it has passed the final status on.
   */
  subscribe(listener: () => void): () => void;
  /** Probes now and records the outcome; the timer calls this too. */
  check(): Promise<ServingStatus>;
  /**
   * Turns NOT_SERVING for good, stops probing and tells every subscriber, then waits until all
   * have unsubscribed (they delivered the news) or `graceMs` passes, whichever comes first.
   */
  shutdown(graceMs: number): Promise<void>;
  /** Stops probing; for contexts that close without a graceful shutdown. */
  close(): void;
}

export interface HealthMonitorOptions {
  /** Resolves when the dependencies answer; a rejection, or no answer within timeoutMs, is NOT_SERVING. */
  probe: () => Promise<void>;
  intervalMs: number;
  /** How long one probe may take; defaults to the interval, at least one second. */
  timeoutMs?: number;
  /**
   * Dependencies the instance can do without, by name, probed alongside `probe` (same
   * timeout). A failure never makes the instance NOT_SERVING: it shows in degraded().
   */
  optional?: Record<string, () => Promise<void>>;
  logger: Logger;
}

/**
 * Probes once, so the first answer is already true, then every `intervalMs`. The timer is
 * unref'd: a monitor never keeps the process alive on its own.
 */
export async function startHealthMonitor(opts: HealthMonitorOptions): Promise<HealthMonitor> {
  const { probe, intervalMs, logger } = opts;
  const timeoutMs = opts.timeoutMs ?? Math.max(intervalMs, 1000);
  const listeners = new Set<() => void>();
  let current: ServingStatus = "NOT_SERVING";
  let degraded: readonly string[] = [];
  let shuttingDown = false;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let drained: (() => void) | undefined;
  let finished: Promise<void> | undefined;

  const notify = () => {
    // A copy: a listener may unsubscribe while we iterate.
    for (const listener of [...listeners]) listener();
  };

  const probeOptional = async (): Promise<string[]> => {
    const failed: string[] = [];
    await Promise.all(
      Object.entries(opts.optional ?? {}).map(async ([name, probeOne]) => {
        try {
          await withTimeout(Promise.resolve().then(probeOne), timeoutMs);
        } catch (err) {
          failed.push(name);
          if (!degraded.includes(name))
            logger.warn({ err, dependency: name }, "health probe failed: degraded");
        }
      }),
    );
    return failed.sort();
  };

  const check = async (): Promise<ServingStatus> => {
    let next: ServingStatus = "SERVING";
    const optionalDone = probeOptional();
    try {
      // Through then(): a probe that throws instead of rejecting counts as a failure too.
      await withTimeout(Promise.resolve().then(probe), timeoutMs);
    } catch (err) {
      next = "NOT_SERVING";
      if (current === "SERVING") logger.warn({ err }, "health probe failed: NOT_SERVING");
    }
    const nextDegraded = await optionalDone;
    // A probe that settles after shutdown began must not bring the status back.
    if (shuttingDown) return current;
    const degradedChanged = nextDegraded.join() !== degraded.join();
    for (const name of degraded) {
      if (!nextDegraded.includes(name))
        logger.info({ dependency: name }, "health probe answered: no longer degraded");
    }
    degraded = nextDegraded;
    if (next === current && !degradedChanged) return current;
    if (next !== current && next === "SERVING") logger.info("health probe answered: SERVING");
    current = next;
    notify();
    return current;
  };

  // Chained timeouts rather than setInterval: a slow probe never overlaps the next one.
  const schedule = () => {
    if (closed || shuttingDown) return;
    timer = setTimeout(() => void check().finally(schedule), intervalMs);
    timer.unref();
  };

  await check();
  schedule();

  return {
    status: () => current,
    isShuttingDown: () => shuttingDown,
    degraded: () => degraded,
    optional: () => Object.keys(opts.optional ?? {}),
    subscribe(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0) drained?.();
      };
    },
    check,
    shutdown(graceMs) {
      shuttingDown = true;
      clearTimeout(timer);
      current = "NOT_SERVING";
      finished ??= new Promise<void>((resolve) => {
        const giveUp = setTimeout(resolve, graceMs);
        drained = () => {
          clearTimeout(giveUp);
          resolve();
        };
        // Always notify, even if already NOT_SERVING: subscribers end on the final status.
        notify();
        if (listeners.size === 0) drained();
      });
      return finished;
    },
    close() {
      closed = true;
      clearTimeout(timer);
    },
  };
}

/** Rejects when `promise` has not settled within `ms`; the timer never outlives the race. */
function withTimeout(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}
