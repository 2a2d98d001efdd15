// Chat fan-out: runs bench/chat-fanout.ts (1,000 Subscribe streams on one room over two
// instances sharing PostgreSQL and Redis, 200 messages/s; smoke: 50 streams, 20/s) and
// reports its figures: send → receipt p50 and p99, against the raw Redis pub/sub round trip
// it measures in the same run. That script starts its own instances (unpinned: it places
// them itself) and checks that every subscriber got every message once and in order.
//
// The figure is the two-instance setup's: it must pass that check, or the bench fails. The
// script then also runs one instance with the in-process bus; that setup's outcome is
// reported in the figure's note (and printed), but is not this figure's check.
import { join } from "node:path";
import { testAuthEnv } from "../../server/test/support/auth.ts";
import type { BenchContext } from "../lib/context.ts";
import { startChild, tailOf } from "../lib/proc.ts";

interface Setup {
  p50: number;
  p99: number;
  /** "delivered N of M …" as printed. */
  delivered: string;
  /** The setup's own FAILED line, if any. */
  failed: string | undefined;
}

const value = "(> ?[\\d.]+|[\\d.]+) ms";
const ms = (s: string | undefined) =>
  s === undefined ? Number.NaN : s.startsWith(">") ? Infinity : Number(s);

/** The block of output under a setup's heading, up to the next unindented line. */
export function setup(output: string, heading: RegExp): Setup | undefined {
  const at = output.search(heading);
  if (at < 0) return undefined;
  const lines = output.slice(at).split("\n");
  const end = lines.findIndex((l, n) => n > 0 && !l.startsWith(" "));
  const block = lines.slice(0, end < 0 ? lines.length : end).join("\n");
  const delay = new RegExp(`send → receipt:\\s+p50 ${value}, p99 ${value}`).exec(block);
  if (!delay) return undefined;
  return {
    p50: ms(delay[1]),
    p99: ms(delay[2]),
    delivered: /delivered (\d+ of \d+)/.exec(block)?.[1] ?? "?",
    failed: /FAILED: (.*)/.exec(block)?.[1],
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
  const two = setup(output, /^two instances \+ Redis/m);
  const one = setup(output, /^one instance/m);
  const redis = new RegExp(`raw Redis pub/sub round trip[^:]*: p50 ${value}, p99 ${value}`).exec(output);
  if (!two || !redis) {
    throw new Error(`bench/chat-fanout.ts (exit ${code}) printed no figures:${tailOf(child.logPath)}`);
  }
  if (two.failed) throw new Error(`two instances + Redis: ${two.failed} (delivered ${two.delivered})`);
  if (code !== 0 && !one?.failed)
    throw new Error(`bench/chat-fanout.ts exited with ${code}:${tailOf(child.logPath)}`);
  if (one?.failed) {
    ctx.log(`  (one instance with the in-process bus did not pass its check: delivered ${one.delivered})`);
  }
  const label = `${subscribers.toLocaleString("en-US")} subscribers, two instances + Redis, ${rate} msg/s`;
  for (const [i, p] of (["p50", "p99"] as const).entries()) {
    const oneNote = one
      ? `; one instance with the in-process bus: ${Number.isFinite(one[p]) ? `${one[p].toFixed(2)} ms` : "> 15 s"}` +
        (one.failed ? `, delivered only ${one.delivered} within 15 s of the last send` : "")
      : "";
    ctx.record({
      name: `Chat fan-out ${p}, send → receipt, ${label}`,
      unit: "ms",
      a: { label: "Switchboard", samples: [two[p]] },
      b: { label: "raw Redis pub/sub round trip", samples: [ms(redis[i + 1])] },
      ratio: two[p] / ms(redis[i + 1]),
      note: `one run, its instances unpinned (bench/chat-fanout.ts starts them)${oneNote}`,
    });
  }
}
