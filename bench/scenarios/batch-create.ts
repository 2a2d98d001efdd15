// BatchCreateUsers of 100,000 users (smoke: 1,000) in one client stream from the load core,
// against the fastest raw bulk insert with the `postgres` driver on the server's core (one
// COPY … FROM STDIN of the same rows), A/B alternately, the users table emptied before each.
import { type BenchContext, busy, inTurn, runWorker } from "../lib/context.ts";
import { callCounts, delta, errorCount } from "../lib/metrics.ts";
import { cpuSecondsOf } from "../lib/proc.ts";
import { throughputFigure } from "../lib/report.ts";
import { startSwitchboard } from "../lib/switchboard.ts";

export async function batchCreate(ctx: BenchContext): Promise<void> {
  const rows = ctx.smoke ? 1_000 : 100_000;
  await ctx.db.truncateUsers();
  const sb = await startSwitchboard(ctx.pinning, {
    name: "switchboard-batch",
    databaseUrl: ctx.db.url,
    redisUrl: ctx.redisUrl,
    logDir: ctx.logDir,
  });
  try {
    let run = 0;
    let load = "";
    const check = async () => {
      const n = await ctx.db.countUsers();
      if (n !== rows) throw new Error(`the table holds ${n} users, expected ${rows}`);
    };
    const viaSwitchboard = async () => {
      await ctx.db.truncateUsers();
      const before = await callCounts(sb.url, "UserService/BatchCreateUsers");
      const cpu = cpuSecondsOf(sb.child.pid);
      const r = await runWorker(ctx, 1, "bench/lib/client.ts", ["batch", sb.url, String(rows), `r${run++}`]);
      load = `server CPU ${busy(cpuSecondsOf(sb.child.pid) - cpu, r.seconds)}, client ${busy(r.cpuSeconds, r.seconds)}`;
      const calls = delta(before, await callCounts(sb.url, "UserService/BatchCreateUsers"));
      if (calls.ok !== 1 || errorCount(calls) !== 0) {
        throw new Error(
          `BatchCreateUsers: the server counted ${calls.ok} ok, ${JSON.stringify(calls.errors)}`,
        );
      }
      await check();
      return r.items / r.seconds;
    };
    const viaCopy = async () => {
      await ctx.db.truncateUsers();
      const r = await runWorker(
        ctx,
        0,
        "bench/reference/postgres-raw.ts",
        ["copy", String(rows), `r${run++}`],
        {
          DATABASE_URL: ctx.db.url,
        },
      );
      await check();
      load = `CPU ${busy(r.cpuSeconds, r.seconds)}`;
      return r.items / r.seconds;
    };
    await viaSwitchboard(); // warm-up
    const sbRates: number[] = [];
    const copyRates: number[] = [];
    const sides = {
      sb: async () => {
        sbRates.push(await viaSwitchboard());
        ctx.log(`  Switchboard BatchCreateUsers: ${Math.round(sbRates.at(-1) ?? 0)} users/s (${load})`);
      },
      copy: async () => {
        copyRates.push(await viaCopy());
        ctx.log(`  raw postgres COPY: ${Math.round(copyRates.at(-1) ?? 0)} users/s (${load})`);
      },
    };
    for (let round = 0; round < ctx.rounds; round++) {
      for (const side of inTurn(round, sides.sb, sides.copy)) await side();
    }
    ctx.record(
      throughputFigure(
        `BatchCreateUsers, ${rows.toLocaleString("en-US")} users in one stream, vs COPY`,
        "users/s",
        { label: "Switchboard", samples: sbRates },
        { label: "raw postgres COPY", samples: copyRates },
        0.5,
      ),
    );
  } finally {
    await sb.child.stop();
    await ctx.db.truncateUsers();
  }
}
