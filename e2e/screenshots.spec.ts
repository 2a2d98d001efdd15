// Screenshots of each page at 1280×800 with believable data, on a server of its own so no other
// spec's data shows: test-results/screenshots/*.png. Not compared with anything: they are for
// people to look at (and they catch layouts that break).
import type { APIRequestContext, Page } from "@playwright/test";
import {
  actAs,
  adminToken,
  expect,
  liveBadge,
  openSignedOut,
  rpc,
  sessionArea,
  signInWithPassword,
  signInWithToken,
  type TestUser,
  test,
} from "./support/fixtures.ts";

const dir = "test-results/screenshots";
/** Ada Lovelace's password: she signs in to show a user's own view. */
const adaPassword = "analytical-engine-1843";

const people = [
  ["Ada Lovelace", 36],
  ["Grace Hopper", 85],
  ["Alan Turing", 41],
  ["Edsger Dijkstra", 72],
  ["Barbara Liskov", 84],
  ["Margaret Hamilton", 88],
  ["Donald Knuth", 87],
  ["Frances Allen", 88],
  ["Ken Thompson", 82],
  ["Radia Perlman", 73],
  ["Leslie Lamport", 84],
  ["Katherine Johnson", 101],
  ["Dennis Ritchie", 70],
  ["Hedy Lamarr", 85],
] as const;

async function seed(request: APIRequestContext, base: string): Promise<TestUser[]> {
  const users: TestUser[] = [];
  for (const [name, age] of people) {
    const email = `${name.toLowerCase().replace(/[^a-z]+/g, ".")}@example.com`;
    const password = name === "Ada Lovelace" ? { password: adaPassword } : {};
    const admin = name === "Grace Hopper" ? { role: "ROLE_ADMIN" } : {};
    const { user } = await rpc<{ user: TestUser }>(
      request,
      "UserService/CreateUser",
      { name, email, age, ...password, ...admin },
      base,
    );
    users.push(user);
  }
  const orders: [number, string, number, string[]][] = [
    [0, "analytical-engine", 1, ["PAID", "SHIPPED", "DELIVERED"]],
    [1, "compiler-kit", 2, ["PAID", "SHIPPED"]],
    [2, "bombe-rotor", 12, ["PAID"]],
    [3, "semaphore-pack", 3, []],
    [4, "clu-handbook", 1, ["CANCELLED"]],
    [5, "apollo-guidance", 1, ["PAID", "SHIPPED", "DELIVERED"]],
    [6, "taocp-vol-4b", 4, ["PAID"]],
    [0, "difference-gears", 6, []],
    [8, "pdp-11-terminal", 1, ["PAID", "SHIPPED"]],
    [9, "spanning-tree", 2, []],
    [10, "paxos-tokens", 5, ["PAID", "CANCELLED"]],
    [0, "punch-cards", 500, ["PAID"]],
  ];
  for (const [who, product, quantity, moves] of orders) {
    const user = users[who] as TestUser;
    const { order } = await rpc<{ order: { id: string } }>(
      request,
      "OrderService/CreateOrder",
      { user_id: user.id, product_id: product, quantity, idempotency_key: product },
      base,
    );
    for (const status of moves) {
      await rpc(
        request,
        "OrderService/UpdateOrderStatus",
        { id: order.id, status: `ORDER_STATUS_${status}` },
        base,
      );
    }
  }
  const chat: [number, string][] = [
    [1, "Morning all! The compiler kit shipped yesterday, tracking is in the order notes."],
    [0, "Thanks Grace. Mine says DELIVERED already, the engine works beautifully."],
    [2, "Has anyone tried the new bombe rotor with more than 10 drums?"],
    [1, "Not yet. Try it over gRPC-Web first, then native gRPC: same room either way."],
    [3, "Reminder: semaphores before shared state, please."],
    [0, "Noted! I'll order a second set of difference gears for the lab."],
  ];
  for (const [who, content] of chat) {
    const user = users[who] as TestUser;
    await rpc(request, "ChatService/SendMessage", { room: "general", user_id: user.id, content }, base);
  }
  for (const room of ["release-train", "support"]) {
    await rpc(
      request,
      "ChatService/SendMessage",
      { room, user_id: users[1]?.id, content: `Welcome to #${room}` },
      base,
    );
  }
  return users;
}

/** BatchCreateUsers as a Connect client stream: each message enveloped (flags, length, JSON). */
async function batchCreateUsers(request: APIRequestContext, base: string, count: number): Promise<void> {
  const chunks: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const name = `Customer ${String(i).padStart(5, "0")}`;
    const json = Buffer.from(JSON.stringify({ name, email: `customer${i}@example.net`, age: 18 + (i % 70) }));
    const head = Buffer.alloc(5);
    head.writeUInt32BE(json.length, 1);
    chunks.push(head, json);
  }
  const res = await request.post(`${base}/switchboard.v1.UserService/BatchCreateUsers`, {
    headers: { "content-type": "application/connect+json", authorization: `Bearer ${adminToken}` },
    data: Buffer.concat(chunks),
    timeout: 120_000,
  });
  expect(res.status()).toBe(200);
  expect((await res.body()).toString()).toContain(`"successCount":${count}`);
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: `${dir}/${name}.png` });
}

// A server of its own, and a lot to seed: starting one takes a while on a busy machine.
test.slow();

test("screenshots of every page, and the users list at 10,000 users", async ({
  browser,
  page,
  protocol,
  request,
  ownServer,
}) => {
  const base = ownServer.url;
  const users = await seed(request, base);
  const ada = users[0] as TestUser;

  // The sign-in screen: first, after a wrong password, and with an access token.
  await openSignedOut(page, protocol, "/users", base);
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
  await shot(page, "sign-in");
  await signInWithPassword(page, ada.email, "not her password");
  await expect(page.getByRole("alert")).toHaveText(/wrong email or password/i);
  await shot(page, "sign-in-error");
  await page.getByRole("button", { name: "Use an access token" }).click();
  await page.getByLabel("Access token").fill(adminToken);
  await shot(page, "sign-in-token");
  await page.getByRole("button", { name: "Use email and password" }).click();
  await signInWithToken(page);

  // The rooms this browser has visited appear in the room list.
  await page.evaluate(() =>
    localStorage.setItem("switchboard.rooms", JSON.stringify(["release-train", "support"])),
  );
  await actAs(page, ada);
  const usersTable = page.getByRole("table", { name: "Users" });
  await expect(usersTable.getByRole("row")).toHaveCount(people.length + 1);
  await shot(page, "users");

  const form = page.getByRole("form", { name: "New user" });
  await form.getByLabel("Name").fill("Claude Shannon");
  await form.getByLabel("Email").fill("claude.shannon@");
  await form.getByLabel("Age").fill("0");
  await form.getByRole("button", { name: "Create user" }).click();
  await expect(form.getByLabel("Email")).toHaveAttribute("aria-invalid", "true");
  await expect(form.getByLabel("Age")).toHaveAttribute("aria-invalid", "true");
  await shot(page, "users-field-errors");

  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Orders" }).click();
  const ordersTable = page.getByRole("table", { name: "Orders" });
  await expect(liveBadge(page, "Orders feed")).toHaveText("Live");
  await expect(ordersTable.getByRole("row")).toHaveCount(13);
  await expect(ordersTable.getByRole("row").filter({ hasText: "paxos-tokens" })).toContainText(
    "Leslie Lamport",
  );
  await expect(ordersTable.getByRole("row").filter({ hasText: "analytical-engine" })).toContainText(
    "Ada Lovelace",
  );
  await shot(page, "orders");

  const tray = page.getByRole("button", { name: /Notifications/ });
  await expect(tray).toHaveAccessibleName(/4 unread/);
  await tray.click();
  await expect(liveBadge(page, "Notifications feed")).toHaveText("Live");
  await shot(page, "notifications");
  await tray.click();

  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Chat" }).click();
  const log = page.getByRole("log", { name: "Messages in general" });
  await expect(liveBadge(page, "Chat feed")).toHaveText("Live");
  await expect(log.getByRole("listitem")).toHaveCount(6);
  await expect(log.getByRole("listitem").first()).toContainText("Grace Hopper");
  await page
    .getByLabel("Message", { exact: true })
    .fill("Shipping update: everything from today goes out by 5 pm.");
  await shot(page, "chat");

  await test.step("a user's own view: profile and orders", async () => {
    const context = await browser.newContext();
    const adaPage = await context.newPage();
    await openSignedOut(adaPage, protocol, "/orders", base);
    await signInWithPassword(adaPage, ada.email, adaPassword);
    await expect(sessionArea(adaPage)).toContainText(ada.name);
    const own = adaPage.getByRole("table", { name: "Orders" });
    await expect(liveBadge(adaPage, "Orders feed")).toHaveText("Live");
    await expect(own.getByRole("row")).toHaveCount(4);
    await expect(own.getByRole("row").filter({ hasText: "difference-gears" }).getByRole("button")).toHaveText(
      ["Pay", "Cancel"],
    );
    await shot(adaPage, "orders-user");
    await adaPage.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Profile" }).click();
    await expect(adaPage.getByRole("region", { name: "Profile" })).toContainText(ada.email);
    await shot(adaPage, "profile");
    await context.close();
  });

  await test.step("the users list stays responsive at 10,000 users", async () => {
    await batchCreateUsers(request, base, 10_000);
    const total = 10_000 + people.length;
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Users" }).click();
    await expect(page.getByText(`${total.toLocaleString("en-US")} users`)).toBeVisible({ timeout: 60_000 });
    // Only the rows in view (and a few more) are in the document; the table knows its size.
    await expect(usersTable).toHaveAttribute("aria-rowcount", String(total + 1));
    expect(await usersTable.getByRole("row").count()).toBeLessThan(60);
    await usersTable.evaluate((table) => {
      const scroller = table.parentElement as HTMLElement;
      scroller.scrollTop = scroller.scrollHeight;
    });
    await expect(usersTable.getByRole("row", { name: /Customer 09999/ })).toBeVisible();
    await page.getByRole("searchbox", { name: "Search users" }).fill("customer4242@");
    await expect(page.getByText("1 user", { exact: true })).toBeVisible();
    await expect(usersTable.getByRole("row", { name: /Customer 04242/ })).toBeVisible();
    await page.getByRole("searchbox", { name: "Search users" }).fill("");
    await expect(page.getByText(`${total.toLocaleString("en-US")} users`)).toBeVisible({ timeout: 60_000 });
    await usersTable.evaluate((table) => {
      const scroller = table.parentElement as HTMLElement;
      scroller.scrollTop = scroller.scrollHeight / 2;
    });
    await expect(usersTable.getByRole("row", { name: /Customer 04/ }).first()).toBeVisible();
    await shot(page, "users-10k");
  });
});
