// The health monitor with a probe the test controls: no server, no database.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { pino } from "pino";
import { startHealthMonitor } from "./health-monitor.ts";

const logger = pino({ level: "silent" });

/** A probe that answers while `up` is true and fails otherwise. */
function switchableProbe() {
  const probe = {
    up: true,
    calls: 0,
    fn: async () => {
      probe.calls++;
      if (!probe.up) throw new Error("database down");
    },
  };
  return probe;
}

/** Resolves once `condition` holds, polling; fails the test after `ms`. */
async function eventually(condition: () => boolean, ms = 2000): Promise<void> {
  const until = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > until) assert.fail("condition not reached in time");
    await sleep(5);
  }
}

describe("health monitor", () => {
  test("the first probe decides the starting status", async () => {
    const up = switchableProbe();
    const a = await startHealthMonitor({ probe: up.fn, intervalMs: 60_000, logger });
    assert.equal(a.status(), "SERVING");
    const down = switchableProbe();
    down.up = false;
    const b = await startHealthMonitor({ probe: down.fn, intervalMs: 60_000, logger });
    assert.equal(b.status(), "NOT_SERVING");
    a.close();
    b.close();
  });

  test("check() follows the probe and tells subscribers of changes only", async () => {
    const probe = switchableProbe();
    const monitor = await startHealthMonitor({ probe: probe.fn, intervalMs: 60_000, logger });
    let told = 0;
    monitor.subscribe(() => told++);
    await monitor.check();
    assert.equal(told, 0, "no change, no news");
    probe.up = false;
    assert.equal(await monitor.check(), "NOT_SERVING");
    assert.equal(told, 1);
    probe.up = true;
    assert.equal(await monitor.check(), "SERVING");
    assert.equal(told, 2);
    monitor.close();
  });

  test("probes on its own every interval", async () => {
    const probe = switchableProbe();
    const monitor = await startHealthMonitor({ probe: probe.fn, intervalMs: 10, logger });
    probe.up = false;
    await eventually(() => monitor.status() === "NOT_SERVING");
    probe.up = true;
    await eventually(() => monitor.status() === "SERVING");
    monitor.close();
    const calls = probe.calls;
    await sleep(50);
    assert.equal(probe.calls, calls, "close() stops probing");
  });

  test("a probe that never answers counts as NOT_SERVING after the timeout", async () => {
    let hang = false;
    const monitor = await startHealthMonitor({
      probe: () => (hang ? new Promise<void>(() => {}) : Promise.resolve()),
      intervalMs: 60_000,
      timeoutMs: 30,
      logger,
    });
    hang = true;
    assert.equal(await monitor.check(), "NOT_SERVING");
    monitor.close();
  });

  test("shutdown turns NOT_SERVING for good and waits for subscribers to pass it on", async () => {
    const probe = switchableProbe();
    const monitor = await startHealthMonitor({ probe: probe.fn, intervalMs: 60_000, logger });
    const seen: string[] = [];
    const unsubscribe = monitor.subscribe(() => seen.push(monitor.status()));
    let finished = false;
    const done = monitor.shutdown(10_000).then(() => {
      finished = true;
    });
    assert.deepEqual(seen, ["NOT_SERVING"]);
    assert.equal(monitor.isShuttingDown(), true);
    await sleep(20);
    assert.equal(finished, false, "waits while a subscriber remains");
    unsubscribe();
    await done;
    // A probe that answers after shutdown began does not bring the status back.
    await monitor.check();
    assert.equal(monitor.status(), "NOT_SERVING");
  });

  test("shutdown tells subscribers even when already NOT_SERVING, and gives up after the grace time", async () => {
    const probe = switchableProbe();
    probe.up = false;
    const monitor = await startHealthMonitor({ probe: probe.fn, intervalMs: 60_000, logger });
    let told = 0;
    monitor.subscribe(() => told++);
    const started = Date.now();
    await monitor.shutdown(50);
    assert.equal(told, 1);
    assert.ok(Date.now() - started >= 45, "waited for the lingering subscriber");
  });
});
