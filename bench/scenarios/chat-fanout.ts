// Chat fan-out: runs bench/chat-fanout.ts (1,000 Subscribe streams on one room over two
// instances sharing PostgreSQL and Redis, 200 messages/s; smoke: 50 streams, 20/s) and
// reports its figures: send → receipt p50 and p99, against the raw Redis pub/sub round trip
// it measures in the same run. That script starts its own instances (unpinned: it places
// them itself) and fails unless every subscriber got every message once and in order.
import { join } from "node:path";
import { testAuthEnv } from "../../server/test/support/auth.ts";
import type { BenchContext } from "../lib/context.ts";
import { startChild, tailOf } from "../lib/proc.ts";

interface Percentiles {
  p50: number;
  p99: number;
}

function parse(output: string): { two?: Percentiles; one?: Percentiles; redis?: Percentiles } {
  const ms = (s: string | undefined) =>
    s === undefined ? Number.NaN : s.startsWith(">") ? Infinity : Number(s);
  const value = "(> ?[\\d.]+|[\\d.]+) ms";
  const delayAfter = (heading: RegExp): Percentiles | undefined => {
    const at = output.search(heading);
    if (at < 0) return undefined;
    const m = new RegExp(`send → receipt:\\s+p50 ${value}, p99 ${value}`).exec(output.slice(at));
    return m ? { p50: ms(m[1]), p99: ms(m[2]) } : undefined;
  };
  const redis = new RegExp(`raw Redis pub/sub round trip[^:]*: p50 ${value}, p99 ${value}`).exec(output);
  return {
    two: delayAfter(/^two instances \+ Redis/m),
    one: delayAfter(/^one instance/m),
    redis: redis ? { p50: ms(redis[1]), p99: ms(redis[2]) } : undefined,
  };
}

export async function chatFanout(ctx: BenchContext): Promise<void> {
  if (!ctx.redisUrl) throw new Error("the chat fan-out needs REDIS_URL");
  const [subscribers, rate, seconds] = ctx.smoke ? [50, 20, 1] : [1000, 200, 3];
  let output = "";
  const child = startChild(
    "chat-fanout",
    [process.execPath, ["bench/chat-fanout.ts", String(subscribers), String(rate), String(seconds)]],
    {
      logPath: join(ctx.logDir, "chat-fanout.log"),
      env: { ...testAuthEnv, DATABASE_URL: ctx.baseDatabaseUrl, REDIS_URL: ctx.redisUrl },
      onLine(line) {
        output += `${line}\n`;
        ctx.log(`  | ${line}`);
      },
    },
  );
  const code = await child.exited;
  if (code !== 0) throw new Error(`bench/chat-fanout.ts exited with ${code}:${tailOf(child.logPath)}`);
  const { two, one, redis } = parse(output);
  if (!two || !redis) throw new Error("could not read the figures in bench/chat-fanout.ts's output");
  const label = `${subscribers.toLocaleString("en-US")} subscribers, two instances + Redis, ${rate} msg/s`;
  for (const p of ["p50", "p99"] as const) {
    ctx.record({
      name: `Chat fan-out ${p}, send → receipt, ${label}`,
      unit: "ms",
      a: { label: "Switchboard", samples: [two[p]] },
      b: { label: "raw Redis pub/sub round trip", samples: [redis[p]] },
      ratio: two[p] / redis[p],
      note: one ? `one instance, in-process bus: ${one[p].toFixed(2)} ms` : undefined,
    });
  }
}
