// End-to-end tests of the dashboard (e2e/): Debian's Chromium drives the built app, served by
// a Switchboard that this config starts on a free port with a fresh embedded database and a
// known admin token (e2e/support/fixtures.ts). Every spec runs once per protocol of the
// dashboard's switch (one project each).
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defineConfig } from "@playwright/test";
import { authEnv, type E2eOptions, protocols } from "./e2e/support/fixtures.ts";

// The runner loads this file again in each worker: the first load picks the port and the data
// directory, and the workers inherit them through the environment.
if (!process.env.E2E_PORT) {
  process.env.E2E_PORT = execFileSync(process.execPath, [
    "-e",
    "const s = require('node:net').createServer().listen(0, '127.0.0.1', () => { process.stdout.write(String(s.address().port)); s.close(); });",
  ]).toString();
  const dataDir = mkdtempSync(join(tmpdir(), "switchboard-e2e-"));
  process.env.E2E_DATA_DIR = dataDir;
  process.on("exit", () => rmSync(dataDir, { recursive: true, force: true }));
}
const baseURL = `http://127.0.0.1:${process.env.E2E_PORT}`;

export default defineConfig<E2eOptions>({
  testDir: "e2e",
  outputDir: "test-results/e2e",
  fullyParallel: true,
  workers: 2,
  retries: 0,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  forbidOnly: process.env.CI === "true",
  reporter: [["list"]],
  use: {
    baseURL,
    viewport: { width: 1280, height: 800 },
    locale: "en-US",
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
    launchOptions: {
      // The browser download of `npx playwright install` is not available here: Debian's build.
      executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
  projects: [
    ...protocols.map((protocol) => ({
      name: protocol,
      testIgnore: /screenshots\.spec\.ts/,
      use: { protocol },
    })),
    { name: "screenshots", testMatch: /screenshots\.spec\.ts/, use: { protocol: "connect-json" } },
  ],
  webServer: {
    // npm start's own steps: build the dashboard if stale, then serve it.
    command:
      "node scripts/build-web.ts && exec node --max-semi-space-size=16 --no-allocation-site-pretenuring server/src/main.ts",
    url: `${baseURL}/readyz`,
    timeout: 120_000,
    reuseExistingServer: false,
    stdout: "ignore",
    stderr: "pipe",
    env: {
      // A known admin token (the specs sign in with it) and no rate or stream limits.
      ...authEnv,
      PORT: process.env.E2E_PORT,
      HOST: "127.0.0.1",
      DATA_DIR: process.env.E2E_DATA_DIR ?? "",
      // Always the embedded database and bus, even where CI provides PostgreSQL and Redis.
      DATABASE_URL: "",
      REDIS_URL: "",
      LOG_LEVEL: "warn",
    },
  },
});
