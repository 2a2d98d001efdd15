import { spawnSync } from "node:child_process";
import { availableParallelism } from "node:os";

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
