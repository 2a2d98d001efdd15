// The measured section of a bench worker (bench/lib/client.ts, bench/reference/postgres-raw.ts)
// and the one JSON line it prints for the harness.

/** What a worker reports. */
export interface WorkerResult {
  /** Items done (rows streamed, users created). */
  items: number;
  seconds: number;
  /** Calls that ended well, and the errors seen (code: message → count). */
  okCalls: number;
  errors: Record<string, number>;
}

let cpuAtStart = process.cpuUsage();
let cpuSeconds = 0;

/** Starts the clock of the measured section: wall time, and this process's CPU time. */
export function startClock(): number {
  cpuAtStart = process.cpuUsage();
  return performance.now();
}

/** Stops it: the wall seconds since `started`; the CPU time is kept for report(). */
export function stopClock(started: number): number {
  const used = process.cpuUsage(cpuAtStart);
  cpuSeconds = (used.user + used.system) / 1e6;
  return (performance.now() - started) / 1000;
}

/** Prints the result, with the CPU time of the measured section, as one JSON line. */
export function report(result: WorkerResult): void {
  process.stdout.write(`${JSON.stringify({ ...result, cpuSeconds })}\n`);
}
