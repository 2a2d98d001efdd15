import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, createWriteStream, openSync, readdirSync, readFileSync } from "node:fs";
import { get } from "node:http";
import { createServer } from "node:net";
import { createInterface } from "node:readline";
import { sleep } from "./stats.ts";

export const root = new URL("../..", import.meta.url).pathname;

/** A child process of the bench: its output goes to a log file (and, line by line, to `onLine`). */
export interface Child {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly pid: number;
  readonly logPath: string;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  readonly exited: Promise<number | string>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
  /** The first stdout line from now on that `match` maps to a value; fails if the process exits first. */
  waitForLine<T>(match: (line: string) => T | undefined, timeoutMs?: number): Promise<T>;
}

export interface StartOptions {
  env?: Record<string, string | undefined>;
  /** Where stdout and stderr go (appended). */
  logPath: string;
  /**
   * "file": the process writes its output to the log file itself, and no line reaches the
   * bench (no onLine, no waitForLine). For servers under load that log a line per call:
   * relayed line by line through the bench, their logging would wait on a pipe that a bench
   * process busy with the load (on the load core) drains late, and the relay would take that
   * core's time from the load generators. Lines (the default): read here, then written.
   */
  output?: "lines" | "file";
  /** Called with every stdout line. */
  onLine?: (line: string) => void;
  /** stdin: ignored unless "pipe". */
  stdin?: "pipe" | "ignore";
  /** A server: runs until stop(); exiting before that is reported. */
  expectRunning?: boolean;
}

const running = new Set<Child>();

export function startChild(name: string, [command, args]: [string, string[]], opts: StartOptions): Child {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, ...opts.env })) if (v !== undefined) env[k] = v;
  const direct = opts.output === "file";
  if (direct && opts.onLine) throw new Error(`${name}: onLine needs output "lines"`);
  const fd = direct ? openSync(opts.logPath, "a") : undefined;
  const output = fd ?? "pipe";
  let proc: ChildProcess;
  try {
    proc = spawn(command, args, { cwd: root, env, stdio: [opts.stdin ?? "ignore", output, output] });
  } finally {
    // The child holds its own copy of the descriptor.
    if (fd !== undefined) closeSync(fd);
  }
  const log = createWriteStream(opts.logPath, { flags: "a" });
  proc.stderr?.pipe(log, { end: false });
  const listeners = new Set<(line: string) => void>();
  if (proc.stdout) {
    createInterface({ input: proc.stdout }).on("line", (line) => {
      log.write(`${line}\n`);
      opts.onLine?.(line);
      for (const listener of listeners) listener(line);
    });
  }
  let stopping = false;
  const exited = new Promise<number | string>((resolve) => {
    proc.once("exit", (code, signal) => {
      running.delete(child);
      // A server that goes away while it is measured spoils the run: say so where it shows.
      if (!stopping && opts.expectRunning) {
        console.log(
          `  ! ${name} (pid ${proc.pid}) exited unexpectedly: ${code ?? signal}; see ${opts.logPath}`,
        );
      }
      resolve(code ?? signal ?? "unknown");
    });
    proc.once("error", (err) => {
      log.write(`spawn error: ${err.message}\n`);
      running.delete(child);
      resolve("spawn error");
    });
  });
  const child: Child = {
    name,
    proc,
    pid: proc.pid ?? -1,
    logPath: opts.logPath,
    exited,
    async stop(graceMs = 10_000) {
      stopping = true;
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
    },
    waitForLine<T>(match: (line: string) => T | undefined, timeoutMs = 60_000): Promise<T> {
      if (direct) return Promise.reject(new Error(`${name}: its output goes to ${opts.logPath}, not here`));
      return new Promise<T>((resolve, reject) => {
        const done = () => {
          listeners.delete(listener);
          clearTimeout(timer);
        };
        const listener = (line: string) => {
          const found = match(line);
          if (found === undefined) return;
          done();
          resolve(found);
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`${name}: no expected line in ${timeoutMs} ms; see ${opts.logPath}`));
        }, timeoutMs);
        listeners.add(listener);
        exited.then((code) => {
          done();
          reject(new Error(`${name} exited (${code}); see ${opts.logPath}`));
        });
      });
    },
  };
  running.add(child);
  return child;
}

/** Stops every child still running (on the way out, also after a failure). */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((c) => c.stop(5000)));
}

/** A TCP port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      srv.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/** Polls `url` until it answers 200; fails if `child` exits first or after `timeoutMs`. */
export async function waitForOk(url: string, child: Child | undefined, timeoutMs = 60_000): Promise<number> {
  const started = performance.now();
  for (;;) {
    if (child && (child.proc.exitCode !== null || child.proc.signalCode !== null)) {
      throw new Error(
        `${child.name} exited (${await child.exited}) before ${url} answered; see ${child.logPath}`,
      );
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.ok) return performance.now() - started;
    } catch {}
    if (performance.now() - started > timeoutMs)
      throw new Error(`${url} did not answer 200 in ${timeoutMs} ms`);
    await sleep(20);
  }
}

/** The last `lines` lines of a log file, indented, for an error message. */
export function tailOf(path: string, lines = 6): string {
  try {
    const all = readFileSync(path, "utf8").trimEnd().split("\n");
    return all
      .slice(-lines)
      .map((l) => `\n      ${l.length > 300 ? `${l.slice(0, 300)}…` : l}`)
      .join("");
  } catch {
    return "";
  }
}

/** CPU time (user + system) a process has used so far, in seconds (clock ticks of 1/100 s). */
export function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // After the command: state(0) ppid(1) … utime(11) stime(12).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** VmRSS and VmHWM (peak) of a process, in MB. */
export function memoryOf(pid: number): { rssMb: number; hwmMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? Number.NaN);
  return { rssMb: kb("VmRSS") / 1024, hwmMb: kb("VmHWM") / 1024 };
}

/** Samples a process's VmRSS every `everyMs` until stopped; stop() gives the peak in MB. */
export function sampleRss(pid: number, everyMs = 10): { stop(): number } {
  let peak = memoryOf(pid).rssMb;
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, memoryOf(pid).rssMb);
    } catch {}
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      try {
        peak = Math.max(peak, memoryOf(pid).rssMb);
      } catch {}
      return peak;
    },
  };
}

/** The process ids below `pid` (children, grandchildren, …), from /proc. */
export function descendantsOf(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // pid (comm) state ppid …; comm may hold spaces and parentheses: read after the last ")".
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      parentOf.set(Number(entry), ppid);
    } catch {}
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [child, parent] of parentOf) {
      if (parent === p) {
        out.push(child);
        walk(child);
      }
    }
  };
  walk(pid);
  return out;
}

/** The command line of a process, arguments joined by spaces ("" once it is gone). */
export function commandLineOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
  } catch {
    return "";
  }
}

/**
 * GET on a connection of its own (no keep-alive pool): a scrape between load runs must not
 * pick up a pooled socket the server has closed in the meantime. Retries twice on a
 * connection error.
 */
export async function httpGet(url: string): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await new Promise<string>((resolve, reject) => {
        const req = get(url, { agent: false, timeout: 10_000 }, (res) => {
          let body = "";
          res.setEncoding("utf8");
          res.on("data", (c: string) => {
            body += c;
          });
          res.on("end", () =>
            res.statusCode === 200 ? resolve(body) : reject(new Error(`GET ${url}: ${res.statusCode}`)),
          );
          res.on("error", reject);
        });
        req.on("timeout", () => req.destroy(new Error(`GET ${url}: timed out`)));
        req.on("error", reject);
      });
    } catch (err) {
      if (attempt >= 2 || /: \d{3}$/.test((err as Error).message)) throw err;
      await sleep(100);
    }
  }
}
