import { join } from "node:path";
import { serverNodeFlags } from "../../server/src/node-flags.ts";
import { testAdminToken, testAuthEnv } from "../../server/test/support/auth.ts";
import type { Pinning } from "../../server/test/support/cpu-pinning.ts";
import { type Child, freePort, startChild, waitForOk } from "./proc.ts";

export const adminToken = testAdminToken;

/**
 * Node's arguments for a server under test: the server's own flags (node-flags.ts), then
 * BENCH_SERVER_NODE_ARGS, for experiments (V8 heap sizes, say): a flag given again there wins.
 */
export function serverNodeArgs(): string[] {
  const extra = (process.env.BENCH_SERVER_NODE_ARGS ?? "").split(" ").filter((a) => a !== "");
  return [...serverNodeFlags, ...extra];
}

export interface SwitchboardProcess {
  readonly child: Child;
  readonly url: string;
  readonly port: number;
}

export interface SwitchboardOptions {
  databaseUrl: string;
  redisUrl?: string | undefined;
  logDir: string;
  name?: string;
  env?: Record<string, string>;
}

/**
 * `node server/src/main.ts` on core 0, with the test admin token and signing key, limits off
 * (support/auth.ts testAuthEnv), on a port of its own; resolves once /readyz answers 200.
 * Everything else is the server's default (LOG_LEVEL info, so one log line per call goes to
 * the log file, as in production), unless the bench's own environment sets it.
 */
export async function startSwitchboard(
  pinning: Pinning,
  opts: SwitchboardOptions,
): Promise<SwitchboardProcess> {
  const port = await freePort();
  const name = opts.name ?? "switchboard";
  const child = startChild(
    name,
    pinning.on(0, process.execPath, [...serverNodeArgs(), "server/src/main.ts"]),
    {
      logPath: join(opts.logDir, `${name}.log`),
      // One log line per call, written by the server itself (proc.ts says why).
      output: "file",
      expectRunning: true,
      env: {
        PORT: String(port),
        HOST: "127.0.0.1",
        DATABASE_URL: opts.databaseUrl,
        REDIS_URL: opts.redisUrl,
        DRAIN_TIMEOUT_MS: "2000",
        ...testAuthEnv,
        ...opts.env,
      },
    },
  );
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForOk(`${url}/readyz`, child);
  } catch (err) {
    await child.stop(2000);
    throw err;
  }
  return { child, url, port };
}
