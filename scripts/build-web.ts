// Builds the dashboard (web/ -> web/dist) with Vite when the build is missing or older than
// anything it is made from; `--force` builds regardless. `npm start` runs this first.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const built = "web/dist/index.html";
// The web app's own files, the generated types it imports, the order life cycle it shares
// with the server, and the installed packages.
const sources = [
  "web/src",
  "web/public",
  "web/index.html",
  "web/vite.config.ts",
  "gen",
  "server/src/order-status.ts",
  "package-lock.json",
];

function newest(path: string): number {
  if (!existsSync(path)) return 0;
  const info = statSync(path);
  if (!info.isDirectory()) return info.mtimeMs;
  let latest = info.mtimeMs;
  for (const entry of readdirSync(path)) latest = Math.max(latest, newest(join(path, entry)));
  return latest;
}

const force = process.argv.includes("--force");
if (!force && existsSync(built) && statSync(built).mtimeMs >= Math.max(...sources.map(newest))) {
  process.exit(0);
}
process.stdout.write("building the dashboard (web/ -> web/dist)\n");
const res = spawnSync(
  "node_modules/.bin/vite",
  ["build", "--config", "web/vite.config.ts", "--logLevel", "warn"],
  { stdio: "inherit" },
);
process.exit(res.status ?? 1);
