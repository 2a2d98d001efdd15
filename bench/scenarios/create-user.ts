// CreateUser, one row per call, from 64 concurrent callers on the load core (one HTTP/2
// connection), against raw `postgres` INSERT … RETURNING at the same concurrency on the
// server's core over a pool of the server's size (DATABASE_POOL_SIZE), A/B alternately.
import { loadConfig } from "../../server/src/config.ts";
import { type BenchContext, busy, inTurn, runWorker } from "../lib/context.ts";
import { callCounts, delta, errorCount } from "../lib/metrics.ts";
import { cpuSecondsOf } from "../lib/proc.ts";
import { throughputFigure } from "../lib/report.ts";
import { startSwitchboard } from "../lib/switchboard.ts";

export async function createUser(ctx: BenchContext): Promise<void> {
  const calls = ctx.smoke ? 500 : 10_000;
  const concurrency = 64;
  // The server's pool: what the environment sets, else the default.
  const poolSize = loadConfig({ DATABASE_POOL_SIZE: process.env.DATABASE_POOL_SIZE }).databasePoolSize;
  await ctx.db.truncateUsers();
  const sb = await startSwitchboard(ctx.pinning, {
    name: "switchboard-create",
    databaseUrl: ctx.db.url,
    redisUrl: ctx.redisUrl,
    logDir: ctx.logDir,
  });
  try {
    let run = 0;
    let load = "";
    const viaSwitchboard = async () => {
      const before = await callCounts(sb.url, "UserService/CreateUser");
      const cpu = cpuSecondsOf(sb.child.pid);
      const r = await runWorker(ctx, 1, "bench/lib/client.ts", [
        "create",
        sb.url,
        String(calls),
        String(concurrency),
        `r${run++}`,
      ]);
      load = `server CPU ${busy(cpuSecondsOf(sb.child.pid) - cpu, r.seconds)}, client ${busy(r.cpuSeconds, r.seconds)}`;
      const counted = delta(before, await callCounts(sb.url, "UserService/CreateUser"));
      if (counted.ok !== calls || errorCount(counted) !== 0) {
        throw new Error(`CreateUser: the server counted ${counted.ok} ok, ${JSON.stringify(counted.errors)}`);
      }
      return r.items / r.seconds;
    };
    const viaInsert = async () => {
      const r = await runWorker(
        ctx,
        0,
        "bench/reference/postgres-raw.ts",
        ["insert", String(calls), String(concurrency), String(poolSize), `r${run++}`],
        { DATABASE_URL: ctx.db.url },
      );
      if (r.items !== calls) throw new Error(`raw INSERT: ${r.items} of ${calls}`);
      load = `CPU ${busy(r.cpuSeconds, r.seconds)}`;
      return r.items / r.seconds;
    };
    // Warm-up: a fresh server needs about 30,000 calls before its CPU per call settles (JIT,
    // each pooled connection preparing its statements): measured 95, 73, 54, then 46 µs of
    // server CPU per call over its first four runs of 10,000.
    for (let i = 0; i < (ctx.smoke ? 1 : 3); i++) {
      await viaSwitchboard();
      await ctx.db.truncateUsers();
    }
    const sbRates: number[] = [];
    const rawRates: number[] = [];
    const sides = {
      sb: async () => {
        sbRates.push(await viaSwitchboard());
        ctx.log(`  Switchboard CreateUser: ${Math.round(sbRates.at(-1) ?? 0)} calls/s (${load})`);
      },
      raw: async () => {
        rawRates.push(await viaInsert());
        ctx.log(`  raw postgres INSERT: ${Math.round(rawRates.at(-1) ?? 0)} rows/s (${load})`);
      },
    };
    for (let round = 0; round < ctx.rounds; round++) {
      for (const side of inTurn(round, sides.sb, sides.raw)) {
        await side();
        await ctx.db.truncateUsers();
      }
    }
    ctx.record(
      throughputFigure(
        `CreateUser, ${concurrency} concurrent callers, vs INSERT (pool ${poolSize})`,
        "rows/s",
        { label: "Switchboard", samples: sbRates },
        { label: "raw postgres", samples: rawRates },
        0.8,
      ),
    );
  } finally {
    await sb.child.stop();
  }
}
