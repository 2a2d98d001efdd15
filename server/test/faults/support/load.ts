import { Code, ConnectError } from "@connectrpc/connect";

/** One call of a load run: when it started, how long it took, and how it ended. */
export interface Outcome {
  startedAt: number;
  ms: number;
  code: Code | "OK";
  /** What an acknowledged call returned (e.g. the created id). */
  value?: string;
  message?: string;
}

/**
 * Runs `call` from `workers` loops until `stop()` is called; every call and its outcome is
 * recorded. The call gets a sequence number (for unique payloads).
 */
export function runLoad(workers: number, call: (n: number) => Promise<string>, pauseMs = 5) {
  const outcomes: Outcome[] = [];
  let stopped = false;
  let n = 0;
  const loops = Array.from({ length: workers }, async () => {
    while (!stopped) {
      const startedAt = Date.now();
      try {
        const value = await call(n++);
        outcomes.push({ startedAt, ms: Date.now() - startedAt, code: "OK", value });
      } catch (err) {
        const e = ConnectError.from(err);
        outcomes.push({ startedAt, ms: Date.now() - startedAt, code: e.code, message: e.rawMessage });
      }
      await new Promise((r) => setTimeout(r, pauseMs));
    }
  });
  return {
    outcomes,
    async stop(): Promise<Outcome[]> {
      stopped = true;
      await Promise.all(loops);
      return outcomes;
    },
  };
}

/** Counts of outcomes by code name, e.g. { OK: 120, UNAVAILABLE: 7 }. */
export function tally(outcomes: readonly Outcome[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const o of outcomes) {
    const name = o.code === "OK" ? "OK" : Code[o.code];
    counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
