// npm run bench — the performance figures of issue #9, measured on this machine in one run:
// Switchboard (node server/src/main.ts, a child process on core 0 where taskset works)
// against reference servers doing the same work (bench/reference/: grpc-js, a bare
// node:http2 ceiling, Fastify, the raw `postgres` driver), with load generators and clients
// on core 1 (h2load from Debian's nghttp2-client; bench/lib/client.ts). Each comparison runs
// A/B alternately `rounds` times and is reported as the median of each side and their ratio,
// with the goal and whether it is met. Every run checks that every response was a success
// (h2load's counts and the server's own); any failure makes the exit code 1.
//
//   npm run bench                  full sizes (several minutes)
//   npm run bench:smoke            tiny sizes, correctness only (npm run bench -- --smoke)
//   npm run bench -- --only=unary,list-users --rounds=7 --seconds=10
//
// Needs DATABASE_URL (PostgreSQL; the bench creates the database switchboard_bench next to
// it and drops it at the end) and REDIS_URL (the servers' bus and cache, and the chat
// fan-out). Writes the table to test-results/bench.md and the children's logs to
// test-results/bench-logs/.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg, release, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { detectPinning, pinDatabase } from "../server/test/support/cpu-pinning.ts";
import type { BenchContext } from "./lib/context.ts";
import { createBenchDatabase } from "./lib/database.ts";
import { root, stopAll } from "./lib/proc.ts";
import { type Figure, line, markdownTable } from "./lib/report.ts";
import { batchCreate } from "./scenarios/batch-create.ts";
import { chatFanout } from "./scenarios/chat-fanout.ts";
import { createUser } from "./scenarios/create-user.ts";
import { listUsers } from "./scenarios/list-users.ts";
import { startup } from "./scenarios/startup.ts";
import { unary } from "./scenarios/unary.ts";

const scenarios: Record<string, (ctx: BenchContext) => Promise<void>> = {
  unary,
  "list-users": listUsers,
  "batch-create": batchCreate,
  "create-user": createUser,
  "chat-fanout": chatFanout,
  startup,
};

const { values: options } = parseArgs({
  options: {
    smoke: { type: "boolean", default: false },
    only: { type: "string" },
    rounds: { type: "string" },
    seconds: { type: "string" },
  },
});
const smoke = options.smoke ?? false;
const only = options.only ? options.only.split(",") : Object.keys(scenarios);
for (const name of only) if (!scenarios[name]) throw new Error(`unknown scenario ${name}`);

const baseDatabaseUrl = process.env.DATABASE_URL;
if (!baseDatabaseUrl) {
  console.error("npm run bench needs DATABASE_URL (PostgreSQL) and REDIS_URL");
  process.exit(2);
}
const redisUrl = process.env.REDIS_URL || undefined;

const began = performance.now();
const resultsDir = join(root, "test-results");
const logDir = join(resultsDir, "bench-logs");
rmSync(logDir, { recursive: true, force: true });
mkdirSync(logDir, { recursive: true });
const tmpDir = mkdtempSync(join(tmpdir(), "switchboard-bench-"));
const pinning = detectPinning();
const figures: Figure[] = [];
const problems: string[] = [];
const loadAtStart = loadavg();

const version = (pkg: string) => {
  try {
    return (
      JSON.parse(readFileSync(join(root, "node_modules", pkg, "package.json"), "utf8")) as { version: string }
    ).version;
  } catch {
    return "?";
  }
};
const h2loadVersion = (() => {
  try {
    return execFileSync("h2load", ["--version"], { encoding: "utf8" })
      .trim()
      .replace(/^h2load /, "");
  } catch {
    return "not installed";
  }
})();

console.log(
  `bench${smoke ? " (smoke: tiny sizes, correctness only)" : ""}: ${only.join(", ")}\n` +
    `pinning: ${pinning.note}\nlogs: ${logDir}`,
);
const db = await createBenchDatabase(
  baseDatabaseUrl,
  smoke ? "switchboard_bench_smoke" : "switchboard_bench",
);
const [backend] = await db.sql<{ pid: number }[]>`select pg_backend_pid() as pid`;
const databasePin = pinDatabase(pinning, backend?.pid ?? 0);
console.log(databasePin.note);
const ctx: BenchContext = {
  smoke,
  // Five rounds: on a shared 2-core VM one run in three can be 15% off for both sides alike.
  rounds: Number(options.rounds ?? (smoke ? 1 : 5)),
  seconds: Number(options.seconds ?? (smoke ? 1 : 5)),
  pinning,
  db,
  baseDatabaseUrl,
  redisUrl,
  logDir,
  tmpDir,
  record(figure) {
    figures.push(figure);
    console.log(`» ${line(figure)}`);
  },
  fail(problem) {
    problems.push(problem);
    console.log(`  FAILED: ${problem}`);
  },
  log(message) {
    console.log(message);
  },
};

let postgresVersion = "?";
try {
  postgresVersion = await db.serverVersion();
  for (const name of only) {
    const started = performance.now();
    console.log(`\n== ${name}`);
    try {
      await scenarios[name]?.(ctx);
    } catch (err) {
      ctx.fail(`${name}: ${err instanceof Error ? err.message : String(err)}`);
    }
    console.log(`   (${name}: ${((performance.now() - started) / 1000).toFixed(1)} s)`);
  }
} finally {
  databasePin.release();
  await stopAll();
  await db.drop().catch((err: unknown) => ctx.fail(`dropping ${db.name}: ${String(err)}`));
  rmSync(tmpDir, { recursive: true, force: true });
}

const seconds = (performance.now() - began) / 1000;
const machine = `${cpus()[0]?.model ?? "?"}, ${availableParallelism()} cores, Linux ${release()}`;
const versions =
  `Node ${process.version}, @connectrpc/connect-node ${version("@connectrpc/connect-node")}, ` +
  `@grpc/grpc-js ${version("@grpc/grpc-js")}, fastify ${version("fastify")}, ` +
  `postgres (driver) ${version("postgres")}, PostgreSQL ${postgresVersion}, h2load ${h2loadVersion}`;
const header = [
  `Machine: ${machine}; load average at start ${loadAtStart.map((l) => l.toFixed(2)).join(" ")}, at end ${loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")}`,
  `Versions: ${versions}`,
  `Pinning: ${pinning.note}; ${databasePin.note}`,
  `Runs: ${ctx.rounds} A/B round(s) per comparison${smoke ? " (smoke sizes: the figures are not meaningful)" : ""}; ` +
    `unary loads ${ctx.seconds} s per run; server LOG_LEVEL ${process.env.LOG_LEVEL || "info (default)"}`,
];
console.log(`\n${header.join("\n")}\n`);
for (const f of figures) console.log(line(f));
const verdict =
  problems.length === 0
    ? `every response of every run was a success (${seconds.toFixed(0)} s in all)`
    : `${problems.length} failed check(s):\n${problems.map((p) => `  - ${p}`).join("\n")}`;
console.log(`\n${verdict}`);

const markdown = [
  `# Switchboard bench${smoke ? " (smoke)" : ""}`,
  "",
  `\`npm run bench${smoke ? ":smoke" : ""}\` on ${new Date().toISOString()}, ${seconds.toFixed(0)} s.`,
  "",
  ...header.map((h) => `- ${h}`),
  "",
  markdownTable(figures),
  problems.length === 0
    ? "All checks passed: every response of every run was a success."
    : `Failed checks:\n\n${problems.map((p) => `- ${p.replaceAll("\n", " ")}`).join("\n")}`,
  "",
].join("\n");
mkdirSync(resultsDir, { recursive: true });
writeFileSync(join(resultsDir, smoke ? "bench-smoke.md" : "bench.md"), markdown);
console.log(`table written to test-results/${smoke ? "bench-smoke.md" : "bench.md"}`);
process.exit(problems.length === 0 ? 0 : 1);
