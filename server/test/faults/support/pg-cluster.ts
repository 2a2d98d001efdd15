import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./processes.ts";

/**
 * A PostgreSQL cluster of the test's own, in a temp dir on a free port, so a test can restart,
 * freeze and kill it without touching the PostgreSQL other tests share.
 */
export interface TestCluster {
  /** postgres://…/postgres on the cluster's port. */
  readonly url: string;
  readonly port: number;
  /** pg_ctl restart with a shutdown mode: fast (clients told) or immediate (as after a crash). */
  restart(mode: "fast" | "immediate"): Promise<void>;
  stop(mode?: "fast" | "immediate"): void;
  start(): void;
  /** SIGSTOP (freeze) or SIGCONT (thaw) the postmaster and every backend of the cluster. */
  signalAll(signal: "SIGSTOP" | "SIGCONT"): number[];
  /** Stops the cluster (thawing it first) and removes its directory. */
  destroy(): void;
}

function binDir(): string | undefined {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, "bin", "pg_ctl")))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], "bin") : undefined;
}

const asRoot = process.getuid?.() === 0;

/** Why a cluster cannot be made here, or false. */
export function clusterUnavailable(): string | false {
  if (!binDir()) return "needs the PostgreSQL server binaries (/usr/lib/postgresql/*/bin)";
  if (asRoot && spawnSync("id", ["-u", "postgres"]).status !== 0) {
    return "running as root needs a postgres user to own the cluster";
  }
  return false;
}

/** Runs a PostgreSQL binary as the postgres user when we are root (PostgreSQL refuses root). */
function run(bin: string, args: string[]): string {
  const path = join(binDir() ?? "", bin);
  const [cmd, argv] = asRoot ? ["runuser", ["-u", "postgres", "--", path, ...args]] : [path, args];
  return execFileSync(cmd, argv, { stdio: ["ignore", "pipe", "pipe"], timeout: 60_000 }).toString();
}

export async function startTestCluster(): Promise<TestCluster> {
  const dir = mkdtempSync(join(tmpdir(), "switchboard-pg-"));
  const data = join(dir, "data");
  if (asRoot) {
    chmodSync(dir, 0o777);
    execFileSync("chown", ["postgres", dir]);
  }
  const port = await freePort();
  run("initdb", ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"]);
  const options = [
    `-p ${port}`,
    "-c listen_addresses=127.0.0.1",
    `-c unix_socket_directories=${dir}`,
    // fsync off is safe here: an immediate stop kills processes, not the kernel, so written
    // WAL survives. (synchronous_commit stays on: acknowledged commits must survive it.)
    "-c fsync=off",
    "-c full_page_writes=off",
    "-c max_connections=100",
  ].join(" ");
  const log = join(dir, "log");
  const start = () => {
    run("pg_ctl", ["-D", data, "-o", options, "-l", log, "-w", "-t", "30", "start"]);
  };
  const stop = (mode: "fast" | "immediate" = "fast") => {
    run("pg_ctl", ["-D", data, "-m", mode, "-w", "-t", "30", "stop"]);
  };
  const pids = (): number[] => {
    const pidFile = join(data, "postmaster.pid");
    if (!existsSync(pidFile)) return [];
    const postmaster = Number(readFileSync(pidFile, "utf8").split("\n")[0]);
    const children = readdirSync("/proc")
      .filter((d) => /^\d+$/.test(d))
      .filter((d) => {
        try {
          const stat = readFileSync(`/proc/${d}/stat`, "utf8");
          return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === postmaster;
        } catch {
          return false;
        }
      })
      .map(Number);
    return [postmaster, ...children];
  };
  start();
  let destroyed = false;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    async restart(mode) {
      stop(mode);
      start();
    },
    stop,
    start,
    signalAll(signal) {
      const all = pids();
      for (const pid of all) {
        try {
          process.kill(pid, signal);
        } catch {}
      }
      return all;
    },
    destroy() {
      if (destroyed) return;
      destroyed = true;
      try {
        for (const pid of pids()) process.kill(pid, "SIGCONT");
      } catch {}
      try {
        stop("immediate");
      } catch {}
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
