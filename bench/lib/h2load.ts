import { spawn } from "node:child_process";
import type { Pinning } from "../../server/test/support/cpu-pinning.ts";

/** One h2load run: the load and what h2load saw. */
export interface LoadSpec {
  url: string;
  /** Request body file (h2load -d; makes the method POST). */
  bodyFile?: string;
  headers: Record<string, string>;
  clients: number;
  /** Concurrent streams per client (HTTP/2) or pipelined requests (HTTP/1.1: keep at 1). */
  streams: number;
  /** Seconds of load (h2load -D), or … */
  seconds?: number;
  /** … a number of requests (h2load -n). */
  requests?: number;
  http1?: boolean;
  /** Threads of h2load (one core: 1). */
  threads?: number;
}

export interface LoadResult {
  /** Requests per second, as h2load computes it (done / elapsed). */
  rate: number;
  seconds: number;
  started: number;
  done: number;
  succeeded: number;
  failed: number;
  errored: number;
  timeout: number;
  status: { "2xx": number; "3xx": number; "4xx": number; "5xx": number };
  command: string;
  output: string;
}

export function h2loadArgs(spec: LoadSpec): string[] {
  const args = [
    `-c${spec.clients}`,
    `-m${spec.streams}`,
    `-t${spec.threads ?? 1}`,
    ...(spec.seconds !== undefined
      ? [`-D${Math.round(spec.seconds * 1000)}ms`]
      : [`-n${spec.requests ?? 1000}`]),
    ...(spec.bodyFile ? ["-d", spec.bodyFile] : []),
    ...Object.entries(spec.headers).flatMap(([k, v]) => ["-H", `${k}: ${v}`]),
    ...(spec.http1 ? ["--h1"] : []),
    spec.url,
  ];
  return args;
}

/** Runs h2load on the load core and parses its summary; throws if it did not run to the end. */
export async function h2load(pinning: Pinning, spec: LoadSpec): Promise<LoadResult> {
  const [command, args] = pinning.on(1, "h2load", h2loadArgs(spec));
  const shown = [command, ...args.map((a) => (/[\s:]/.test(a) ? `'${a}'` : a))]
    .join(" ")
    .replace(/Bearer [^']+/, "Bearer …");
  const output = await new Promise<string>((resolve, reject) => {
    const proc = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    proc.stdout.on("data", (c: Buffer) => {
      out += c.toString();
    });
    proc.stderr.on("data", (c: Buffer) => {
      out += c.toString();
    });
    proc.once("error", reject);
    proc.once("exit", (code) => {
      if (code === 0) resolve(out);
      else reject(new Error(`h2load exited with ${code}: ${shown}\n${out}`));
    });
  });
  return { ...parseH2load(output), command: shown, output };
}

export function parseH2load(output: string): Omit<LoadResult, "command" | "output"> {
  const finished = /finished in ([\d.]+)(ms|s),\s+([\d.]+) req\/s/.exec(output);
  const requests =
    /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(
      output,
    );
  const status = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(output);
  if (!finished || !requests || !status) throw new Error(`unexpected h2load output:\n${output}`);
  const n = (m: RegExpExecArray, i: number) => Number(m[i]);
  return {
    seconds: n(finished, 1) / (finished[2] === "ms" ? 1000 : 1),
    rate: n(finished, 3),
    started: n(requests, 2),
    done: n(requests, 3),
    succeeded: n(requests, 4),
    failed: n(requests, 5),
    errored: n(requests, 6),
    timeout: n(requests, 7),
    status: { "2xx": n(status, 1), "3xx": n(status, 2), "4xx": n(status, 3), "5xx": n(status, 4) },
  };
}

/**
 * Problems with what h2load itself saw (the server side is checked separately). With -D,
 * responses that arrive after the deadline count in the status codes but not in `done`, so
 * only a fixed request count (-n) can demand 2xx == done.
 */
export function h2loadProblems(r: LoadResult, fixedCount = true): string[] {
  const problems: string[] = [];
  if (r.done === 0) problems.push("no request completed");
  if (r.failed || r.errored || r.timeout)
    problems.push(`${r.failed} failed, ${r.errored} errored, ${r.timeout} timed out`);
  const other = r.status["3xx"] + r.status["4xx"] + r.status["5xx"];
  if (other > 0) problems.push(`${other} responses were not 2xx`);
  if (fixedCount && r.status["2xx"] !== r.done) problems.push(`${r.status["2xx"]} 2xx for ${r.done} done`);
  return problems;
}
