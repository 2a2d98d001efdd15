import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { missingNodeFlags, serverNodeFlags } from "./node-flags.ts";

const root = new URL("../../", import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), "utf8");

// The launchers that cannot import node-flags.ts spell the flags out; each must start the
// server with exactly them, in order, right before the entry point.
test("npm start starts the server with the server's node flags", () => {
  const { scripts } = JSON.parse(read("package.json")) as { scripts: Record<string, string> };
  assert.match(scripts.start ?? "", /exec node (.*)server\/src\/main\.ts$/);
  assert.deepEqual(flagsBefore(scripts.start ?? "", "server/src/main.ts"), serverNodeFlags);
});

test("Playwright's web server starts the server with the server's node flags", () => {
  const command = /command:\s*"([^"]*server\/src\/main\.ts)"/.exec(read("playwright.config.ts"))?.[1];
  assert.ok(command, "playwright.config.ts starts server/src/main.ts");
  assert.deepEqual(flagsBefore(command, "server/src/main.ts"), serverNodeFlags);
});

test("the Dockerfile starts the server with the server's node flags", () => {
  const cmd = /^CMD (\[.*\])$/m.exec(read("Dockerfile"))?.[1];
  assert.ok(cmd, "the Dockerfile has an exec-form CMD");
  const argv = JSON.parse(cmd) as string[];
  assert.equal(argv[0], "node");
  assert.equal(argv.at(-1), "server/src/main.ts");
  assert.deepEqual(argv.slice(1, -1), serverNodeFlags);
});

test("the server's node flags are ones node accepts", () => {
  const run = spawnSync(process.execPath, [...serverNodeFlags, "-e", "0"], { encoding: "utf8" });
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stderr, "");
});

/** The flags between `node` and `entry` in a shell command line. */
function flagsBefore(command: string, entry: string): string[] {
  const words = command.split(/\s+/);
  const at = words.lastIndexOf(entry);
  const node = words.lastIndexOf("node", at);
  assert.ok(node >= 0 && at > node, `${command}: node … ${entry}`);
  return words.slice(node + 1, at);
}

test("a server flag left out is reported; given, or given with another value, it is not", () => {
  assert.deepEqual(missingNodeFlags([]), serverNodeFlags);
  assert.deepEqual(missingNodeFlags(["--inspect", "--enable-source-maps"]), serverNodeFlags);
  assert.deepEqual(missingNodeFlags([...serverNodeFlags]), []);
  const names = serverNodeFlags.map((f) => f.split("=")[0] ?? f);
  assert.deepEqual(missingNodeFlags(names.map((n) => `${n}=64`)), []);
  assert.deepEqual(missingNodeFlags(names.map((n) => `--${n.slice(2).replaceAll("-", "_")}=8`)), []);
  // A boolean flag turned the other way is an operator's choice too.
  const pretenuring = serverNodeFlags.filter((f) => f.startsWith("--no-"));
  assert.ok(pretenuring.length > 0);
  assert.deepEqual(
    missingNodeFlags([
      ...serverNodeFlags.filter((f) => !f.startsWith("--no-")),
      ...pretenuring.map((f) => f.replace("--no-", "--")),
    ]),
    [],
  );
});
