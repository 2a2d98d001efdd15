import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { availableParallelism, cpus } from "node:os";

// CPU placement for measurements, shared by the bench (bench/run.ts) and the attack suite
// (security/isolated-server.ts): both keep core 0 for the server under test.

/**
 * CPU pinning with `taskset`: the server under test (and each reference server) on core 0,
 * load generators and bench clients on core 1, so the two never compete for one core. Where
 * taskset is missing or refused (containers without sched_setaffinity, one core), everything
 * runs unpinned and the report says so.
 */
export interface Pinning {
  /** True when taskset works and there are at least two cores. */
  readonly pinned: boolean;
  /** Why not, when not. */
  readonly note: string;
  /** `[command, args]` to run `command args` on `core` (unchanged when unpinned). */
  on(core: 0 | 1, command: string, args: string[]): [string, string[]];
}

export function detectPinning(): Pinning {
  const cores = availableParallelism();
  let note = "";
  let pinned = false;
  if (cores < 2) {
    note = `only ${cores} core: unpinned`;
  } else {
    const probe = spawnSync("taskset", ["-c", "1", "true"], { stdio: "ignore" });
    if (probe.error) note = "taskset not found: unpinned";
    else if (probe.status !== 0) note = `taskset -c 1 failed (exit ${probe.status}): unpinned`;
    else pinned = true;
  }
  return {
    pinned,
    note: pinned ? "servers on core 0, load generators and clients on core 1 (taskset)" : note,
    on(core, command, args) {
      return pinned ? ["taskset", ["-c", String(core), command, ...args]] : [command, args];
    },
  };
}

export interface DatabasePin {
  /** What was done, for the report. */
  readonly note: string;
  release(): void;
}

/**
 * PostgreSQL on the load core (core 1) for the whole run, when it runs on this machine and
 * taskset works (`pinning.pinned`): its postmaster (backends forked later inherit the affinity) and every
 * process under it. Unpinned, the scheduler puts a busy backend wherever there is room, often
 * on the server's core: in ListUsers a backend took a third of core 0 from the server under
 * test, while the raw-driver reference (which keeps core 0 itself busy) had its backend on
 * core 1. The database belongs with the rest of the load, so both sides meet it the same way.
 * `release` gives every process under the postmaster all cores again (not a remembered mask:
 * a run that was killed before releasing must not make the next one keep core 1 only).
 */
export function pinDatabase(pinning: Pinning, backendPid: number): DatabasePin {
  const unpinned = (why: string): DatabasePin => ({ note: `PostgreSQL unpinned (${why})`, release() {} });
  if (!pinning.pinned) return unpinned(pinning.note);
  const postmaster = parentOf(backendPid);
  if (postmaster === undefined || processName(postmaster) !== "postgres") {
    return unpinned("not a local server");
  }
  // Every CPU the machine has, not only those this process may use (it may run under taskset).
  const all = `0-${cpus().length - 1}`;
  const setAll = (cpus: string) => {
    let ok = true;
    for (const pid of [postmaster, ...childrenOf(postmaster)]) {
      const r = spawnSync("taskset", ["-a", "-p", "-c", cpus, String(pid)], { stdio: "ignore" });
      if (r.status !== 0 && pid === postmaster) ok = false;
    }
    return ok;
  };
  if (!setAll("1")) return unpinned(`taskset on its postmaster (pid ${postmaster}) was refused`);
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    setAll(all);
  };
  process.once("exit", release);
  // Node runs no 'exit' handlers when a signal ends it: give the cores back, then end as it would.
  // (A SIGKILL leaves it pinned until the next run's release.)
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      release();
      process.kill(process.pid, signal);
    });
  }
  return { note: "PostgreSQL on core 1 with the load (its postmaster and backends, taskset)", release };
}

function parentOf(pid: number): number | undefined {
  try {
    // /proc/<pid>/stat: "pid (comm) state ppid …"; comm may hold spaces, so read after ")".
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    return Number.isInteger(ppid) && ppid > 1 ? ppid : undefined;
  } catch {
    return undefined;
  }
}

function processName(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return undefined;
  }
}

function childrenOf(pid: number): number[] {
  const r = spawnSync("pgrep", ["-P", String(pid)], { encoding: "utf8" });
  return (r.stdout ?? "")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map(Number);
}
