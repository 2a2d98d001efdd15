// The attack suite's server in a process of its own (server-process.ts), pinned to core 0
// with the test process (bystander and attacker) on core 1 where taskset works, as the bench
// pins its servers: what the bystander measures is then the server's answer time, not the
// bystander's own event loop or heap shared with it.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import postgres from "postgres";
import { serverNodeFlags } from "../../src/node-flags.ts";
import { type DatabasePin, detectPinning, type Pinning, pinDatabase } from "../support/cpu-pinning.ts";

/** What the server holds now. */
export interface Probe {
  /** Streaming calls open. */
  streams: number;
  /** Bus subscriptions open (live streams that have started following events). */
  subscriptions: number;
  /** User-cache reads that went to the database, and to Redis, since the start. */
  userCacheLoads: number;
  userCacheSharedHits: number;
}

/** The server's own measurements over a window (one attack). */
export interface WindowStats {
  wallMs: number;
  /** CPU time the server process used (user + system). */
  cpuMs: number;
  /** What the server allocated on its JavaScript heap, and the heap in use at the end (MB). */
  allocatedMb: number;
  heapAfterMb: number;
  /** Event-loop delay (5 ms resolution): how late the server got to ready work. */
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  /** GC pauses by V8's kind (Scavenge, MarkSweepCompact, IncrementalMarking, ProcessWeakCallbacks). */
  gc: Record<string, { n: number; ms: number; maxMs: number }>;
  /** Most database work in flight at once (sampled every 5 ms). */
  peakDbInFlight: number;
}

export type ServerRequest =
  | { op: "probe" }
  | { op: "chatMessages"; room: string }
  | { op: "windowStart" }
  | { op: "windowEnd"; label: string }
  | { op: "close" };

export interface IsolatedServer {
  readonly url: string;
  readonly port: number;
  /** How the processes are placed, for the report. */
  readonly placement: string;
  probe(): Promise<Probe>;
  /** Messages stored in a chat room. */
  chatMessages(room: string): Promise<number>;
  /** Starts the server's measurement window; windowEnd returns it (and writes a profile when asked). */
  windowStart(): Promise<void>;
  windowEnd(label: string): Promise<WindowStats>;
  /** Stops the server, drops its database and waits for the process to exit. */
  close(): Promise<void>;
}

function overrides(): Record<string, string> {
  const raw = process.env.ATTACK_SERVER_SETTINGS;
  return raw ? (JSON.parse(raw) as Record<string, string>) : {};
}

/** PostgreSQL's processes on core 1 when DATABASE_URL names a server running on this machine. */
async function pinLocalDatabase(pinning: Pinning): Promise<DatabasePin> {
  const url = process.env.DATABASE_URL;
  // Embedded PGlite runs inside the server: nothing to move.
  if (!url) return { note: "embedded PGlite", release() {} };
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql<{ pid: number }[]>`select pg_backend_pid() as pid`;
    return pinDatabase(pinning, row?.pid ?? 0);
  } finally {
    await sql.end();
  }
}

/**
 * Starts server-process.ts with `env` (its settings, as for startTestServer) and resolves once
 * it listens. Extra node flags for the server (e.g. --trace-gc) come from ATTACK_SERVER_NODE_ARGS;
 * ATTACK_PROFILE_DIR makes it write a CPU profile per measured window (with
 * ATTACK_PROFILE_KIND=heap, a sampling heap profile of what was allocated instead), and
 * ATTACK_SERVER_SETTINGS (JSON) overrides settings, to try a change of limits without an edit.
 */
export async function startIsolatedServer(env: Record<string, string>): Promise<IsolatedServer> {
  const pinning = detectPinning();
  const script = new URL("./server-process.ts", import.meta.url).pathname;
  const nodeArgs = (process.env.ATTACK_SERVER_NODE_ARGS ?? "").split(" ").filter(Boolean);
  const [command, args] = pinning.on(0, process.execPath, [...serverNodeFlags, ...nodeArgs, script]);
  if (pinning.pinned) {
    // This process (the bystander, and the attacker's process started after this) on the other core.
    execFileSync("taskset", ["-a", "-p", "-c", "1", String(process.pid)], { stdio: "ignore" });
  }
  // PostgreSQL too, as the bench places it: left to the scheduler, its backends answering the
  // attack ran on the server's core. (Embedded PGlite runs inside the server: nothing to move.)
  const database = await pinLocalDatabase(pinning);
  const child: ChildProcess = spawn(command, args, {
    env: { ...process.env, ATTACK_SERVER_ENV: JSON.stringify({ ...env, ...overrides() }) },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let nextId = 0;
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const ready = new Promise<{ url: string; port: number }>((resolve, reject) => {
    child.on(
      "message",
      (m: { ready?: { url: string; port: number }; id?: number; result?: unknown; error?: string }) => {
        if (m.ready) return resolve(m.ready);
        const w = waiting.get(m.id ?? -1);
        waiting.delete(m.id ?? -1);
        if (m.error !== undefined) w?.reject(new Error(`server process: ${m.error}`));
        else w?.resolve(m.result);
      },
    );
    child.once("exit", (code, signal) => {
      const err = new Error(`the server process exited (${code ?? signal})`);
      reject(err);
      for (const w of waiting.values()) w.reject(err);
      waiting.clear();
    });
  });
  const { url, port } = await ready;
  const ask = <T>(req: ServerRequest): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const id = nextId++;
      waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      child.send({ ...req, id });
    });
  return {
    url,
    port,
    placement: pinning.pinned
      ? `the server in a process of its own on core 0; the bystander (the test process) and the attacker (a process of its own, every thread at the lowest priority) on core 1 (taskset); ${database.note}; Redis unpinned`
      : "the server in a process of its own; the bystander (the test process) and the attacker (a process of its own at the lowest priority), unpinned: taskset unavailable",
    probe: () => ask<Probe>({ op: "probe" }),
    chatMessages: (room) => ask<number>({ op: "chatMessages", room }),
    windowStart: () => ask<void>({ op: "windowStart" }),
    windowEnd: (label) => ask<WindowStats>({ op: "windowEnd", label }),
    async close() {
      try {
        if (child.exitCode !== null || child.signalCode !== null) return;
        await ask({ op: "close" });
        child.disconnect();
        await exited;
      } finally {
        database.release();
      }
    },
  };
}
