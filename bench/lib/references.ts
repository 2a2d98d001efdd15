import { join } from "node:path";
import type { Pinning } from "../../server/test/support/cpu-pinning.ts";
import { type Child, httpGet, startChild } from "./proc.ts";

export type ReferenceKind = "grpc-js-server" | "h2-ceiling" | "fastify-server";

export interface ReferenceServer {
  readonly child: Child;
  readonly url: string;
  /** The server's own tally of answered calls (GET /count on its side port). */
  count(): Promise<{ ok: number; failed: number }>;
}

/** Starts bench/reference/<kind>.ts on core 0 and waits for its ready line. */
export async function startReference(
  pinning: Pinning,
  kind: ReferenceKind,
  env: Record<string, string>,
  logDir: string,
): Promise<ReferenceServer> {
  const child = startChild(kind, pinning.on(0, process.execPath, [`bench/reference/${kind}.ts`]), {
    logPath: join(logDir, `${kind}.log`),
    expectRunning: true,
    env: { ...env, PORT: "0" },
  });
  const ready = child.waitForLine((line) => {
    try {
      const parsed = JSON.parse(line) as { ready?: boolean; port: number; countPort: number };
      return parsed.ready ? parsed : undefined;
    } catch {
      return undefined;
    }
  }, 30_000);
  const { port, countPort } = await ready;
  return {
    child,
    url: `http://127.0.0.1:${port}`,
    async count() {
      return JSON.parse(await httpGet(`http://127.0.0.1:${countPort}/count`)) as {
        ok: number;
        failed: number;
      };
    },
  };
}
