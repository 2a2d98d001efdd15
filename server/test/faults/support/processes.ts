import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { serverNodeFlags } from "../../../src/node-flags.ts";
import { testAuthEnv } from "../../support/auth.ts";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      srv.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

const mainTs = fileURLToPath(new URL("../../../src/main.ts", import.meta.url));

/** A Switchboard server as a child process (`node server/src/main.ts`), so a crash is visible. */
export interface ServerProcess {
  readonly url: string;
  readonly port: number;
  readonly proc: ChildProcess;
  /** Exit code or signal once it exited; undefined while it runs. */
  exited(): { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** Resolves when the process exits. */
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The last lines it logged (stdout and stderr), for failure messages. */
  logTail(lines?: number): string;
  /** Sends `signal`; SIGKILL by default. Resolves when it exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Starts the server with `env` (a free PORT unless it names one) and waits until it listens,
 * for up to `startTimeoutMs`. It runs with the test admin token and signing key and with limits
 * off (support/auth.ts's testAuthEnv), unless `env` sets them.
 */
export async function startServerProcess(
  env: Record<string, string>,
  { startTimeoutMs = 30_000 } = {},
): Promise<ServerProcess> {
  const port = env.PORT ? Number(env.PORT) : await freePort();
  const proc = spawn(process.execPath, [...serverNodeFlags, mainTs], {
    env: { ...process.env, HOST: "127.0.0.1", LOG_LEVEL: "info", ...testAuthEnv, ...env, PORT: String(port) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    lines.push(...chunk.toString().split("\n").filter(Boolean));
    if (lines.length > 400) lines.splice(0, lines.length - 400);
  };
  proc.stdout?.on("data", keep);
  proc.stderr?.on("data", keep);
  let status: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.once("exit", (code, signal) => {
      status = { code, signal };
      resolve(status);
    });
  });
  const url = `http://127.0.0.1:${port}`;
  const until = Date.now() + startTimeoutMs;
  for (;;) {
    if (status)
      throw new Error(`server exited during start (${JSON.stringify(status)}):\n${lines.join("\n")}`);
    if (lines.some((l) => l.includes("switchboard listening"))) break;
    if (Date.now() > until) {
      proc.kill("SIGKILL");
      throw new Error(`server did not start within ${startTimeoutMs / 1000} s:\n${lines.join("\n")}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    url,
    port,
    proc,
    exit,
    exited: () => status,
    logTail: (n = 40) => lines.slice(-n).join("\n"),
    async kill(signal = "SIGKILL") {
      if (status) return;
      proc.kill(signal);
      await exit;
    },
  };
}
