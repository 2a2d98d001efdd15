import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type APIRequestContext, test as base, expect, type Page } from "@playwright/test";
import type { User } from "../../gen/switchboard/v1/user_pb.js";
import { startServerProcess } from "../../server/test/faults/support/processes.ts";

/** The dashboard's protocol switch (web/src/protocol.ts): each spec runs once under each. */
export const protocols = ["connect-json", "connect-binary", "grpc-web"] as const;
export type Protocol = (typeof protocols)[number];

export interface E2eOptions {
  protocol: Protocol;
}

/** The content type of a unary request in each protocol: proof that the switch took effect. */
export const unaryContentType: Record<Protocol, string> = {
  "connect-json": "application/json",
  "connect-binary": "application/proto",
  "grpc-web": "application/grpc-web+proto",
};

/** A user as the Connect JSON API returns it. */
export type TestUser = Pick<User, "id" | "name" | "email">;

/** A Switchboard process of the test's own, which the test may stop and start again. */
export interface OwnServer {
  readonly url: string;
  /** SIGTERM (graceful: open streams end with UNAVAILABLE), then wait for the exit. */
  stop(): Promise<void>;
  /** Starts the server again on the same port and data. */
  start(): Promise<void>;
}

interface Fixtures {
  /** A suffix no other test (nor project, nor run) uses: for emails, rooms, products. */
  unique: string;
  ownServer: OwnServer;
}

// Always the embedded database and bus, like the config's web server. (startServerProcess waits
// for the "listening" line that LOG_LEVEL=info, its default, prints.)
const serverEnv = { DATABASE_URL: "", REDIS_URL: "", DRAIN_TIMEOUT_MS: "2000" };
// A fresh embedded database takes seconds to create and migrate, many more on a busy machine.
const startOptions = { startTimeoutMs: 120_000 };

export const test = base.extend<E2eOptions & Fixtures>({
  protocol: ["connect-json", { option: true }],
  unique: async ({ protocol }, use, testInfo) => {
    await use(`${protocol}-${testInfo.workerIndex}-${Date.now().toString(36)}`);
  },
  // biome-ignore lint/correctness/noEmptyPattern: Playwright reads a fixture's dependencies from this pattern
  ownServer: async ({}, use) => {
    const dataDir = mkdtempSync(join(tmpdir(), "switchboard-e2e-own-"));
    let proc = await startServerProcess({ ...serverEnv, DATA_DIR: dataDir }, startOptions);
    const port = String(proc.port);
    const server: OwnServer = {
      url: proc.url,
      async stop() {
        await proc.kill("SIGTERM");
      },
      async start() {
        proc = await startServerProcess({ ...serverEnv, DATA_DIR: dataDir, PORT: port }, startOptions);
      },
    };
    await use(server);
    await proc.kill("SIGTERM");
    rmSync(dataDir, { recursive: true, force: true });
  },
});

export { expect };

/** Opens a page of the dashboard speaking the project's protocol (`base` defaults to the config's server). */
export async function open(page: Page, protocol: Protocol, path: string, base = ""): Promise<void> {
  await page.goto(`${base}${path}?protocol=${protocol}`);
}

/** POSTs a Connect JSON request (plain HTTP, as curl would) and returns the parsed answer. */
export async function rpc<T>(request: APIRequestContext, path: string, body: object, base = ""): Promise<T> {
  const res = await request.post(`${base}/switchboard.v1.${path}`, { data: body });
  expect(res.ok(), `${path}: ${res.status()} ${await res.text()}`).toBe(true);
  return (await res.json()) as T;
}

export async function createUser(
  request: APIRequestContext,
  name: string,
  email: string,
  base = "",
): Promise<TestUser> {
  const { user } = await rpc<{ user: TestUser }>(
    request,
    "UserService/CreateUser",
    { name, email, age: 30 },
    base,
  );
  return user;
}

/** Picks who this browser acts as, through the header's combobox (chat sender, notification tray). */
export async function actAs(page: Page, user: TestUser): Promise<void> {
  const picker = page.getByRole("combobox", { name: "Acting as" });
  await picker.fill(user.email);
  await page.getByRole("option", { name: new RegExp(escapeRegExp(user.email)) }).click();
  await expect(picker).toHaveValue(user.name);
}

/** The state badge of a live view: "Connecting…", "Live", "Reconnecting…". */
export function liveBadge(page: Page, name: "Orders feed" | "Chat feed" | "Notifications feed") {
  return page.getByRole("status", { name });
}

export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
