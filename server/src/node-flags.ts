/**
 * The node flags the server runs with. Every launcher passes them on its command line: npm
 * start, Playwright's web server and the Dockerfile spell them out (node-flags.test.ts holds
 * those copies equal to this list); the bench and the test harnesses that start the server as
 * a process take them from here. Only a command line can set them: V8 sizes its heap before
 * the first line of main.ts runs, and `v8.setFlagsFromString` afterwards changes nothing.
 *
 * --max-semi-space-size=16: on a machine with this much memory, Node 24's V8 lets the young
 * generation grow to 128 MB (two 64 MB semi-spaces). That memory stays resident, and a
 * scavenge copies everything alive in it: under a flood of new streams (all in flight, so all
 * alive) single pauses of 67–130 ms were measured. At 16 MB a semi-space the server holds
 * about 100 MB less under load and the longest scavenge of the same attacks was 8–49 ms; CPU
 * per GetUser call, listed row and imported user did not measurably change, CreateUser's (64
 * calls held open across database round trips) rose about 5–10% (README, Performance). At
 * 8 MB pauses were shorter still, but BatchCreateUsers spent 15% more CPU per user.
 *
 * --no-allocation-site-pretenuring: once optimized, V8 allocates straight into the old
 * generation the objects of an allocation site whose objects have tended to survive. The
 * driver's row objects did, early in a ListUsers stream, so after a few streams every row
 * was born old, died old, and kept its young strings alive until a mark-compact: a quarter of
 * each scavenge survived again and the peak grew with the row count. Without it the share
 * stays at 2% and the peak is flat (177–181 MB for 10,000 or 100,000 rows), with the same CPU
 * per Connect JSON call and per imported user (README, Performance).
 */
export const serverNodeFlags: readonly string[] = [
  "--max-semi-space-size=16",
  "--no-allocation-site-pretenuring",
];

/**
 * The server's flags that `given` (NODE_OPTIONS' words, then node's own arguments) leaves out.
 * A flag given with another value counts as given: an operator may choose another size.
 */
export function missingNodeFlags(given: readonly string[]): string[] {
  const names = new Set(given.map(flagName));
  return serverNodeFlags.filter((flag) => !names.has(flagName(flag)));
}

/**
 * `--max-semi-space-size` of `--max-semi-space-size=16`, `--allocation-site-pretenuring` of
 * `--no-allocation-site-pretenuring`: node reads `_` in a flag as `-`, and `--no-x` is `--x` off.
 */
function flagName(flag: string): string {
  return (flag.split("=")[0] ?? flag).replaceAll("_", "-").replace(/^--no-/, "--");
}
