// ListUsers streaming the whole users table (100,000 rows; smoke: 1,000) to a gRPC client on
// the load core, against reading the same rows with the raw `postgres` driver on the
// server's core (keyset pages of 500, each row mapped to an object), A/B alternately. The
// server's RSS is sampled from /proc every 10 ms during each stream: its peak while
// streaming 10,000 rows and 100,000 rows should be the same (keyset pages, backpressure).
import { type BenchContext, busy, inTurn, runWorker } from "../lib/context.ts";
import { callCounts, delta, errorCount } from "../lib/metrics.ts";
import { cpuSecondsOf, memoryOf, sampleRss } from "../lib/proc.ts";
import { throughputFigure } from "../lib/report.ts";
import { startSwitchboard } from "../lib/switchboard.ts";

export async function listUsers(ctx: BenchContext): Promise<void> {
  const small = ctx.smoke ? 100 : 10_000;
  const large = ctx.smoke ? 1_000 : 100_000;
  await ctx.db.truncateUsers();
  const sb = await startSwitchboard(ctx.pinning, {
    name: "switchboard-list",
    databaseUrl: ctx.db.url,
    redisUrl: ctx.redisUrl,
    logDir: ctx.logDir,
  });
  try {
    const fill = async (rows: number, tag: string) => {
      await runWorker(ctx, 0, "bench/reference/postgres-raw.ts", ["copy", String(rows), tag], {
        DATABASE_URL: ctx.db.url,
      });
      await ctx.db.sql.unsafe("analyze users");
    };
    const idle = memoryOf(sb.child.pid).rssMb;

    /** One ListUsers of the whole table through Switchboard: rows/s and the server's peak RSS. */
    const stream = async (rows: number) => {
      const before = await callCounts(sb.url, "UserService/ListUsers");
      const cpu = cpuSecondsOf(sb.child.pid);
      const sampler = sampleRss(sb.child.pid);
      let peak = 0;
      let result: Awaited<ReturnType<typeof runWorker>>;
      try {
        result = await runWorker(ctx, 1, "bench/lib/client.ts", ["list", sb.url, String(rows)]);
      } finally {
        peak = sampler.stop();
      }
      const calls = delta(before, await callCounts(sb.url, "UserService/ListUsers"));
      if (calls.ok !== 1 || errorCount(calls) !== 0) {
        throw new Error(`ListUsers: the server counted ${calls.ok} ok, ${JSON.stringify(calls.errors)}`);
      }
      const load = `server CPU ${busy(cpuSecondsOf(sb.child.pid) - cpu, result.seconds)}, client ${busy(result.cpuSeconds, result.seconds)}`;
      return { rate: result.items / result.seconds, peak, load };
    };

    await fill(small, "small");
    const smallPeaks: number[] = [];
    await stream(small); // warm-up
    for (let r = 0; r < ctx.rounds; r++) smallPeaks.push((await stream(small)).peak);

    await fill(large - small, "large");
    if ((await ctx.db.countUsers()) !== large) throw new Error("the table does not hold the expected rows");
    await stream(large); // warm-up
    const largePeaks: number[] = [];
    const sbRates: number[] = [];
    const rawRates: number[] = [];
    const viaSwitchboard = async () => {
      const { rate, peak, load } = await stream(large);
      sbRates.push(rate);
      largePeaks.push(peak);
      ctx.log(
        `  Switchboard ListUsers: ${Math.round(rate)} rows/s, server peak RSS ${peak.toFixed(1)} MB (${load})`,
      );
    };
    const viaPostgres = async () => {
      const r = await runWorker(ctx, 0, "bench/reference/postgres-raw.ts", ["list", String(large)], {
        DATABASE_URL: ctx.db.url,
      });
      rawRates.push(r.items / r.seconds);
      ctx.log(
        `  raw postgres: ${Math.round(r.items / r.seconds)} rows/s (CPU ${busy(r.cpuSeconds, r.seconds)})`,
      );
    };
    for (let round = 0; round < ctx.rounds; round++) {
      for (const run of inTurn(round, viaSwitchboard, viaPostgres)) await run();
    }
    ctx.record(
      throughputFigure(
        `ListUsers, ${large.toLocaleString("en-US")} rows streamed`,
        "rows/s",
        { label: "Switchboard", samples: sbRates },
        { label: "raw postgres", samples: rawRates },
        0.7,
      ),
    );
    const smallPeak = Math.max(...smallPeaks);
    const largePeak = Math.max(...largePeaks);
    ctx.record({
      name: `ListUsers server peak RSS, ${large.toLocaleString("en-US")} vs ${small.toLocaleString("en-US")} rows`,
      unit: "MB",
      a: { label: `${large.toLocaleString("en-US")} rows`, samples: largePeaks },
      b: { label: `${small.toLocaleString("en-US")} rows`, samples: smallPeaks },
      ratio: largePeak / smallPeak,
      goal: "≤ 1.1× (flat)",
      met: largePeak / smallPeak <= 1.1,
      note: `peaks (max over runs) ${largePeak.toFixed(1)} vs ${smallPeak.toFixed(1)} MB; idle before ${idle.toFixed(1)} MB`,
    });
  } finally {
    await sb.child.stop();
  }
}
