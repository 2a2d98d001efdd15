import { join } from "node:path";
import type { Pinning } from "../../server/test/support/cpu-pinning.ts";
import type { BenchDatabase } from "./database.ts";
import { startChild, tailOf } from "./proc.ts";
import type { Figure } from "./report.ts";
import { adminToken } from "./switchboard.ts";

/** What every scenario gets from bench/run.ts. */
export interface BenchContext {
  readonly smoke: boolean;
  /** A/B rounds per comparison (each round runs both sides; the order alternates). */
  readonly rounds: number;
  /** Seconds of load per h2load run. */
  readonly seconds: number;
  readonly pinning: Pinning;
  readonly db: BenchDatabase;
  /** DATABASE_URL as given (the chat fan-out bench makes a database of its own next to it). */
  readonly baseDatabaseUrl: string;
  readonly redisUrl: string | undefined;
  /** Where the children's logs go. */
  readonly logDir: string;
  /** Scratch files (request bodies). */
  readonly tmpDir: string;
  /** Adds a line to the table (and prints it). */
  record(figure: Figure): void;
  /** A failed check: the bench goes on with the next figure but exits 1 at the end. */
  fail(problem: string): void;
  log(message: string): void;
}

/** What a worker (bench/lib/client.ts, bench/reference/postgres-raw.ts) prints. */
export interface WorkResult {
  items: number;
  seconds: number;
  /** The worker's own CPU time over the measured section. */
  cpuSeconds?: number;
  okCalls: number;
  errors: Record<string, number>;
}

/** Runs a worker script on `core` and returns its JSON line; throws on errors or a bad exit. */
export async function runWorker(
  ctx: BenchContext,
  core: 0 | 1,
  script: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<WorkResult> {
  const name = script.replace(/^.*\//, "").replace(/\.ts$/, "");
  const child = startChild(`${name} ${args[0]}`, ctx.pinning.on(core, process.execPath, [script, ...args]), {
    logPath: join(ctx.logDir, `${name}.log`),
    env: { BENCH_TOKEN: adminToken, ...env },
  });
  let result: WorkResult | undefined;
  const parsed = child
    .waitForLine((line) => {
      try {
        const value = JSON.parse(line) as WorkResult;
        return typeof value.items === "number" ? value : undefined;
      } catch {
        return undefined;
      }
    }, 3_600_000)
    .then((r) => {
      result = r;
    })
    .catch(() => {});
  const code = await child.exited;
  await parsed;
  if (!result)
    throw new Error(`${name} ${args.join(" ")} exited (${code}) without a result:${tailOf(child.logPath)}`);
  const errors = Object.entries(result.errors);
  if (errors.length > 0 || code !== 0) {
    throw new Error(
      `${name} ${args[0]}: ${errors.map(([what, n]) => `${n}× ${what}`).join("; ") || `exit ${code}`}`,
    );
  }
  return result;
}

/** CPU time over wall time, as a percentage of one core. */
export function busy(cpuSeconds: number | undefined, seconds: number): string {
  return cpuSeconds === undefined ? "?" : `${Math.round((100 * cpuSeconds) / seconds)}%`;
}

/** Round r's order of two sides: A B, then B A, … (drift over time hits both alike). */
export function inTurn<T>(round: number, a: T, b: T): [T, T] {
  return round % 2 === 0 ? [a, b] : [b, a];
}
