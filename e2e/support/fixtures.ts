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

/** The operator's admin token of every server the tests start (ADMIN_TOKEN): what `open` signs in with. */
export const adminToken = "e2e-admin-token-0123456789abcdef0123456789abcdef";

/**
 * The auth settings of every server the tests start: a known admin token and signing key
 * (both 32+ characters), and no rate or stream limits, since every browser of the run comes
 * from the one address 127.0.0.1.
 */
export const authEnv: Record<string, string> = {
  ADMIN_TOKEN: adminToken,
  AUTH_SECRET: "e2e-auth-secret-0123456789abcdef0123456789abcdef",
  RATE_LIMIT_USER_PER_SECOND: "0",
  RATE_LIMIT_ADDRESS_PER_SECOND: "0",
  MAX_STREAMS_PER_USER: "0",
  MAX_STREAMS_PER_ADDRESS: "0",
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
const serverEnv = { ...authEnv, DATABASE_URL: "", REDIS_URL: "", DRAIN_TIMEOUT_MS: "2000" };
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

/**
 * Opens a page of the dashboard speaking the project's protocol (`base` defaults to the
 * config's server) and signs in there with the admin token, as an operator would.
 */
export async function open(page: Page, protocol: Protocol, path: string, base = ""): Promise<void> {
  await openSignedOut(page, protocol, path, base);
  await signInWithToken(page);
}

/** Opens a page of the dashboard without signing in: it shows the sign-in screen. */
export async function openSignedOut(page: Page, protocol: Protocol, path: string, base = ""): Promise<void> {
  await page.goto(`${base}${path}?protocol=${protocol}`);
}

/** The header's account area: who is signed in, their role, Sign out. */
export function sessionArea(page: Page) {
  return page.getByRole("region", { name: "Signed in" });
}

/** Signs in on the sign-in screen with an access token (the admin token unless told). */
export async function signInWithToken(page: Page, token = adminToken): Promise<void> {
  await page.getByRole("button", { name: "Use an access token" }).click();
  await page.getByLabel("Access token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(sessionArea(page)).toBeVisible();
}

/** Signs in on the sign-in screen with an email and a password. */
export async function signInWithPassword(page: Page, email: string, password: string): Promise<void> {
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

/**
 * POSTs a Connect JSON request (plain HTTP, as curl would) with the admin token (or `token`)
 * and returns the parsed answer.
 */
export async function rpc<T>(
  request: APIRequestContext,
  path: string,
  body: object,
  base = "",
  token = adminToken,
): Promise<T> {
  const res = await request.post(`${base}/switchboard.v1.${path}`, {
    data: body,
    headers: { authorization: `Bearer ${token}` },
  });
  expect(res.ok(), `${path}: ${res.status()} ${await res.text()}`).toBe(true);
  return (await res.json()) as T;
}

/** Creates a user as the admin; with a password, the user can sign in. */
export async function createUser(
  request: APIRequestContext,
  name: string,
  email: string,
  base = "",
  extra: { password?: string; role?: "ROLE_USER" | "ROLE_ADMIN" } = {},
): Promise<TestUser> {
  const { user } = await rpc<{ user: TestUser }>(
    request,
    "UserService/CreateUser",
    { name, email, age: 30, ...extra },
    base,
  );
  return user;
}

/** Picks who this browser acts as, through the header's combobox (chat sender, notification tray). */
export async function actAs(page: Page, user: TestUser): Promise<void> {
  const picker = page.getByRole("combobox", { name: "Acting as" });
  await picker.fill(user.email);
  // The suggestions settle on the one match first: focusing the picker may have listed the
  // first few users, and an option that moves between press and release is not picked.
  const suggestions = page.getByRole("listbox", { name: "Acting as suggestions" });
  await expect(suggestions.getByRole("option")).toHaveCount(1);
  await page.getByRole("option", { name: new RegExp(escapeRegExp(user.email)) }).click();
  await expect(picker).toHaveValue(user.name);
}

/**
 * The Users page's count of what it lists ("1 user", "1,234 users"), shown once the list (or
 * the search) has finished loading: "Loading…" until then, with the previous rows still shown.
 */
export function usersCount(page: Page) {
  return page.getByText(/^[\d,]+ users?$/);
}

/** The state badge of a live view: "Connecting…", "Live", "Reconnecting…". */
export function liveBadge(page: Page, name: "Orders feed" | "Chat feed" | "Notifications feed") {
  return page.getByRole("status", { name });
}

export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
