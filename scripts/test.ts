// The test command (`npm test`): contract checks, static checks, then every test suite.
// Each step prints its name; the first failure stops the run with a non-zero exit.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, globSync } from "node:fs";

const ci = process.env.CI === "true";
const bin = (name: string) => `node_modules/.bin/${name}`;

function step(name: string, cmd: string, args: string[]): void {
  process.stdout.write(`\n== ${name}\n`);
  const res = spawnSync(cmd, args, { stdio: "inherit" });
  if (res.status !== 0) {
    process.stdout.write(`\n== FAILED: ${name}\n`);
    process.exit(res.status ?? 1);
  }
}

function has(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

// gen/ must be exactly what the protos produce (and buf lint runs inside generate).
if (has("protoc")) {
  step("generate (buf lint + codegen)", process.execPath, ["scripts/generate.ts"]);
  step("gen/ is up to date", "git", ["diff", "--exit-code", "--stat", "--", "gen/"]);
  const untracked = execFileSync("git", ["ls-files", "--others", "--exclude-standard", "gen/"])
    .toString()
    .trim();
  if (untracked) {
    process.stdout.write(`gen/ has files that are not committed:\n${untracked}\n`);
    process.exit(1);
  }
} else if (ci) {
  process.stdout.write("protoc is missing: CI must check gen/ (apt-get install protobuf-compiler)\n");
  process.exit(1);
} else {
  process.stdout.write("\n== skipped: gen/ check needs protoc (apt-get install protobuf-compiler)\n");
}

step("typecheck", bin("tsc"), ["--noEmit", "-p", "."]);
step("typecheck the dashboard (web/)", bin("tsc"), ["--noEmit", "-p", "web"]);
step("lint and format", bin("biome"), ["ci", "."]);

// The attack suite measures a bystander's latency on a server pinned to one core, its
// clients on the other: it runs alone, after the rest, so that its figures are the server's
// and not those of whatever test file the runner would have run beside it on a 2-core machine.
const attackSuite = "server/test/security/abuse.test.ts";
const files = ["server/src/**/*.test.ts", "server/test/**/*.test.ts", "web/src/**/*.test.ts"]
  .flatMap((pattern) => globSync(pattern))
  .filter((file) => file !== attackSuite)
  .sort();
step("unit, integration and interop tests", process.execPath, [
  "--test",
  "--test-concurrency=2",
  "--test-timeout=120000",
  ...files,
]);
if (existsSync(attackSuite)) {
  step("attack suite (alone)", process.execPath, ["--test", "--test-timeout=180000", attackSuite]);
}

// The dashboard in Debian's Chromium (playwright.config.ts starts its own server).
const chromium = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
if (existsSync(chromium)) {
  step("end-to-end tests (Playwright, Chromium)", bin("playwright"), ["test"]);
} else if (ci) {
  process.stdout.write(
    `${chromium} is missing: CI must run the end-to-end tests (apt-get install chromium)\n`,
  );
  process.exit(1);
} else {
  process.stdout.write("\n== skipped: end-to-end tests need Chromium (apt-get install chromium)\n");
}
