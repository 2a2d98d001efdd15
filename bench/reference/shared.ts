// What every reference server shares: the user it answers for (the same bytes Switchboard
// answered with, handed over by bench/run.ts in the environment), the bearer token it
// checks, and its tally of successes and failures, readable on a side port (GET /count) so
// the bench can require that every request of a run was a success.
import { createServer as createHttpServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface Tally {
  ok: number;
  failed: number;
}

export const tally: Tally = { ok: 0, failed: 0 };

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (reference servers are started by bench/run.ts)`);
  return value;
}

/** `Authorization` value every call must carry (as with Switchboard's ADMIN_TOKEN). */
export const expectedAuthorization = `Bearer ${required("BENCH_TOKEN")}`;

/** Switchboard's GetUserResponse for the bench user: protobuf binary, and Connect JSON. */
export const userResponseBinary = (): Uint8Array => Buffer.from(required("BENCH_USER_BINARY"), "base64");
export const userResponseJson = (): string => Buffer.from(required("BENCH_USER_JSON"), "base64").toString();

/** Serves GET /count on a port of its own; prints the ready line bench/run.ts waits for. */
export async function announce(port: number): Promise<void> {
  const side = createHttpServer((_req, res) => {
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify(tally));
  });
  await new Promise<void>((resolve) => side.listen(0, "127.0.0.1", resolve));
  const countPort = (side.address() as AddressInfo).port;
  process.stdout.write(`${JSON.stringify({ ready: true, port, countPort })}\n`);
  for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => process.exit(0));
}

export function portFromEnv(): number {
  return Number(process.env.PORT ?? 0);
}
