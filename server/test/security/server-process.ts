// The server under attack in abuse.test.ts, run as a process of its own (as in production),
// so the bystander's and the attacker's client work and garbage collection are not counted
// against it. Started by isolated-server.ts with its settings in ATTACK_SERVER_ENV; answers
// the test's questions about what it holds (open streams, subscriptions, cache loads) over
// the IPC channel, and measures itself during each attack: event-loop delay, GC pauses, CPU
// time, peak database work in flight, and (with ATTACK_PROFILE_DIR) a CPU profile per attack.
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { GCProfiler, getHeapStatistics } from "node:v8";
import { sql } from "drizzle-orm";
import { startTestServer } from "../support/test-server.ts";
import type { Probe, ServerRequest, WindowStats } from "./isolated-server.ts";
import { queryRows } from "./support.ts";

const send = (message: unknown) => process.send?.(message);
const env = JSON.parse(process.env.ATTACK_SERVER_ENV ?? "{}") as Record<string, string>;
const profileDir = process.env.ATTACK_PROFILE_DIR || undefined;
/** "heap": the profile per window samples allocations (what allocates) instead of CPU time. */
const profileKind = process.env.ATTACK_PROFILE_KIND === "heap" ? "heap" : "cpu";
const server = await startTestServer(env);
const { ctx } = server;

const loopDelay = monitorEventLoopDelay({ resolution: 5 });
loopDelay.enable();

const session = profileDir ? new Session() : undefined;
if (session) {
  session.connect();
  if (profileKind === "heap") await session.post("HeapProfiler.enable");
  else {
    await session.post("Profiler.enable");
    await session.post("Profiler.setSamplingInterval", { interval: 200 });
  }
}

interface Window {
  cpu: NodeJS.CpuUsage;
  started: number;
  usedHeap: number;
  /** Each GC with the heap before and after it, as --trace-gc prints them. */
  gc: GCProfiler;
  peakDb: number;
  sampler: NodeJS.Timeout;
}

interface GcRecord {
  gcType: string;
  /** Microseconds. */
  cost: number;
  beforeGC: { heapStatistics: { usedHeapSize: number } };
  afterGC: { heapStatistics: { usedHeapSize: number } };
}
let window: Window | undefined;

async function windowStart(): Promise<null> {
  if (window) {
    clearInterval(window.sampler);
    window.gc.stop();
  }
  loopDelay.reset();
  const gc = new GCProfiler();
  gc.start();
  const w: Window = {
    cpu: process.cpuUsage(),
    started: performance.now(),
    usedHeap: getHeapStatistics().used_heap_size,
    gc,
    peakDb: ctx.database.inFlight(),
    sampler: setInterval(() => {
      w.peakDb = Math.max(w.peakDb, ctx.database.inFlight());
    }, 5),
  };
  window = w;
  if (session && profileKind === "heap") {
    // Every allocation sampled, not only what is still alive when the window ends.
    await session.post("HeapProfiler.startSampling", {
      samplingInterval: 4096,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
  } else if (session) await session.post("Profiler.start");
  return null;
}

async function windowEnd(label: string): Promise<WindowStats> {
  const w = window;
  if (!w) throw new Error("no window started");
  window = undefined;
  clearInterval(w.sampler);
  const wallMs = performance.now() - w.started;
  const cpu = process.cpuUsage(w.cpu);
  const usedHeap = getHeapStatistics().used_heap_size;
  const pauses = (w.gc.stop()?.statistics ?? []) as GcRecord[];
  if (session && profileKind === "heap") {
    const { profile } = await session.post("HeapProfiler.stopSampling");
    if (profileDir) writeFileSync(join(profileDir, `${label}.heapprofile`), JSON.stringify(profile));
  } else if (session) {
    const { profile } = await session.post("Profiler.stop");
    if (profileDir) writeFileSync(join(profileDir, `${label}.cpuprofile`), JSON.stringify(profile));
  }
  const byKind: Record<string, { n: number; ms: number; maxMs: number }> = {};
  // What the program allocated: the heap's growth between collections, plus since the last.
  let allocated = 0;
  let after = w.usedHeap;
  for (const p of pauses) {
    allocated += Math.max(0, p.beforeGC.heapStatistics.usedHeapSize - after);
    after = p.afterGC.heapStatistics.usedHeapSize;
    const k = byKind[p.gcType] ?? { n: 0, ms: 0, maxMs: 0 };
    byKind[p.gcType] = k;
    k.n++;
    k.ms += p.cost / 1000;
    k.maxMs = Math.max(k.maxMs, p.cost / 1000);
  }
  allocated += Math.max(0, usedHeap - after);
  return {
    wallMs,
    cpuMs: (cpu.user + cpu.system) / 1000,
    allocatedMb: allocated / 2 ** 20,
    heapAfterMb: usedHeap / 2 ** 20,
    loopDelayP99Ms: loopDelay.percentile(99) / 1e6,
    loopDelayMaxMs: loopDelay.max / 1e6,
    gc: byKind,
    peakDbInFlight: w.peakDb,
  };
}

function probe(): Probe {
  const cache = ctx.userCache.stats();
  return {
    streams: ctx.openCalls.streams(),
    subscriptions: ctx.bus.subscriptionCount(),
    userCacheLoads: cache.loads,
    userCacheSharedHits: cache.sharedHits,
  };
}

async function chatMessages(room: string): Promise<number> {
  const [row] = await queryRows<{ n: unknown }>(
    server,
    sql`select count(*) as n from chat_messages where room = ${room}`,
  );
  return Number(row?.n);
}

async function answer(req: ServerRequest): Promise<unknown> {
  switch (req.op) {
    case "probe":
      return probe();
    case "chatMessages":
      return chatMessages(req.room);
    case "windowStart":
      return windowStart();
    case "windowEnd":
      return windowEnd(req.label);
    case "close":
      await close();
      return null;
  }
}

process.on("message", (req: ServerRequest & { id: number }) => {
  answer(req).then(
    (result) => send({ id: req.id, result }),
    (err: unknown) =>
      send({ id: req.id, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
  );
});
let closing: Promise<void> | undefined;
function close(): Promise<void> {
  closing ??= (async () => {
    loopDelay.disable();
    session?.disconnect();
    await server.close();
  })();
  return closing;
}
// The test process went away without closing: drop the database and do not outlive it.
process.on("disconnect", () => {
  close().finally(() => process.exit(0));
});
send({ ready: { url: server.url, port: server.port } });
