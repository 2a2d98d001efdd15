// Start-up: from spawning `npm start` (warm install, dashboard already built) on the server's
// core to the first 200 from /readyz, and the server's memory once idle after start: RSS 2 s
// after ready, and its peak (VmHWM) so far. `rounds` runs; the figures are medians.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { testAuthEnv } from "../../server/test/support/auth.ts";
import type { BenchContext } from "../lib/context.ts";
import { commandLineOf, descendantsOf, freePort, memoryOf, startChild, waitForOk } from "../lib/proc.ts";
import { sleep } from "../lib/stats.ts";

export async function startup(ctx: BenchContext): Promise<void> {
  // Warm install: the dashboard is built before the clock starts (npm start builds it only
  // when its sources changed).
  const build = spawnSync(process.execPath, ["scripts/build-web.ts"], { stdio: "ignore" });
  if (build.status !== 0) throw new Error("scripts/build-web.ts failed");
  const readyMs: number[] = [];
  const idleRss: number[] = [];
  const peakRss: number[] = [];
  for (let round = 0; round < Math.max(ctx.rounds, ctx.smoke ? 1 : 3); round++) {
    const port = await freePort();
    const child = startChild("npm-start", ctx.pinning.on(0, "npm", ["start", "--silent"]), {
      logPath: join(ctx.logDir, "npm-start.log"),
      env: {
        PORT: String(port),
        HOST: "127.0.0.1",
        DATABASE_URL: ctx.db.url,
        REDIS_URL: ctx.redisUrl,
        ...testAuthEnv,
      },
    });
    try {
      readyMs.push(await waitForOk(`http://127.0.0.1:${port}/readyz`, child, 60_000));
      const server = descendantsOf(child.pid).find((pid) =>
        commandLineOf(pid).includes("server/src/main.ts"),
      );
      if (server === undefined) throw new Error("no server/src/main.ts process under npm start");
      await sleep(2000);
      const memory = memoryOf(server);
      idleRss.push(memory.rssMb);
      peakRss.push(memory.hwmMb);
      ctx.log(
        `  npm start → /readyz 200: ${readyMs.at(-1)?.toFixed(0)} ms; RSS idle ${memory.rssMb.toFixed(1)} MB, ` +
          `peak ${memory.hwmMb.toFixed(1)} MB`,
      );
      // npm passes SIGTERM on to the script; the server drains and exits.
      process.kill(server, "SIGTERM");
      await Promise.race([child.exited, sleep(10_000)]);
    } finally {
      await child.stop(5000);
    }
  }
  ctx.record({
    name: "Start-up: npm start → /readyz 200",
    unit: "ms",
    a: { label: "Switchboard", samples: readyMs },
  });
  ctx.record({
    name: "Server RSS at idle after start",
    unit: "MB",
    a: { label: "Switchboard", samples: idleRss },
  });
  ctx.record({
    name: "Server peak RSS (VmHWM) at idle after start",
    unit: "MB",
    a: { label: "Switchboard", samples: peakRss },
  });
}
