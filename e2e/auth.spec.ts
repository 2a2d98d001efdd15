import type { Page } from "@playwright/test";
import {
  adminToken,
  createUser,
  escapeRegExp,
  expect,
  liveBadge,
  open,
  openSignedOut,
  rpc,
  sessionArea,
  signInWithPassword,
  signInWithToken,
  test,
  usersCount,
} from "./support/fixtures.ts";

function ordersRow(page: Page, product: string) {
  return page.getByRole("table", { name: "Orders" }).getByRole("row").filter({ hasText: product });
}

function signInHeading(page: Page) {
  return page.getByRole("heading", { name: "Sign in" });
}

/** Moves the app to `path` as its own links do (a page load would sign out). */
async function goClientSide(page: Page, path: string): Promise<void> {
  await page.evaluate((to) => {
    window.history.pushState(null, "", `${to}${window.location.search}`);
    window.dispatchEvent(new PopStateEvent("popstate"));
  }, path);
}

/** Everything this page's origin keeps in storage a script could read: keys, values, cookies. */
function storedState(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const all: string[] = [document.cookie];
    for (const storage of [localStorage, sessionStorage]) {
      for (let i = 0; i < storage.length; i++) {
        const key = storage.key(i) ?? "";
        all.push(key, storage.getItem(key) ?? "");
      }
    }
    return all;
  });
}

test("an admin creates a user with a password; the user signs in and sees only their own data", async ({
  browser,
  page,
  protocol,
  request,
  unique,
}) => {
  // Someone else's order, which the new user must never see.
  const other = await createUser(request, `Otto ${unique}`, `otto-${unique}@example.com`);
  const othersProduct = `others-${unique}`;
  await rpc(request, "OrderService/CreateOrder", {
    user_id: other.id,
    product_id: othersProduct,
    quantity: 1,
    idempotency_key: othersProduct,
  });

  // The admin creates the user, with a password and the User role, through the Users page.
  const name = `Uma ${unique}`;
  const email = `uma-${unique}@example.com`;
  const password = `correct horse ${unique}`;
  await open(page, protocol, "/users");
  const form = page.getByRole("form", { name: "New user" });
  await form.getByLabel("Name").fill(name);
  await form.getByLabel("Email").fill(email);
  await form.getByLabel("Age").fill("29");
  await form.getByLabel("Password").fill(password);
  await form.getByLabel("Role").selectOption({ label: "User" });
  await form.getByRole("button", { name: "Create user" }).click();
  await expect(page.getByRole("status").filter({ hasText: `Created ${name}.` })).toBeVisible();
  await expect(
    page.getByRole("table", { name: "Users" }).getByRole("row", { name: new RegExp(escapeRegExp(name)) }),
  ).toContainText("User");

  // In a browser context of their own, the user signs in with that email and password.
  const context = await browser.newContext();
  const uma = await context.newPage();
  await openSignedOut(uma, protocol, "/orders");
  await expect(signInHeading(uma)).toBeVisible();
  await signInWithPassword(uma, email, password);
  await expect(sessionArea(uma)).toContainText(name);
  await expect(sessionArea(uma)).toContainText("User");
  // A user chooses no one to act as: they are themselves.
  await expect(uma.getByRole("combobox", { name: "Acting as" })).toHaveCount(0);

  // They order for themselves: no customer to choose.
  await expect(liveBadge(uma, "Orders feed")).toHaveText("Live");
  await expect(uma.getByRole("heading", { name: "Your orders" })).toBeVisible();
  const newOrder = uma.getByRole("form", { name: "New order" });
  await expect(newOrder.getByRole("combobox", { name: "Customer" })).toHaveCount(0);
  const product = `mine-${unique}`;
  await newOrder.getByLabel("Product").fill(product);
  await newOrder.getByLabel("Quantity").fill("3");
  await newOrder.getByRole("button", { name: "Create order" }).click();
  // The answer is in: its notice shows above the table, moving the rows down (the row itself
  // may come first, from the stream, and move under the pointer when Pay is pressed below).
  await expect(uma.getByRole("status").filter({ hasText: "Created order" })).toBeVisible();
  const row = ordersRow(uma, product);
  await expect(row).toContainText("Pending");
  await expect(row).toContainText(name);

  // Only their own orders: the other user's is not in the table (header + their one order).
  const table = uma.getByRole("table", { name: "Orders" });
  await expect(table.getByRole("row")).toHaveCount(2);
  await expect(ordersRow(uma, othersProduct)).toHaveCount(0);
  // The admin sees both.
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Orders" }).click();
  await expect(ordersRow(page, othersProduct)).toBeVisible();
  await expect(ordersRow(page, product)).toContainText(name);

  // Only a customer's moves: pay and cancel, never ship.
  await expect(row.getByRole("button")).toHaveText(["Pay", "Cancel"]);
  await row.getByRole("button", { name: "Pay" }).click();
  await expect(row).toContainText("Paid");
  await expect(row.getByRole("button")).toHaveText(["Cancel"]);
  // The admin may ship it.
  await expect(ordersRow(page, product).getByRole("button")).toHaveText(["Ship", "Cancel"]);

  // Their own notifications (the tray subscribes with no user_id): the payment.
  const tray = uma.getByRole("button", { name: /Notifications/ });
  await expect(tray).toHaveAccessibleName(/1 unread/);
  await tray.click();
  await expect(uma.getByRole("dialog", { name: "Notifications" }).getByRole("listitem")).toContainText([
    "Order paid",
  ]);
  await tray.click();

  // The Users page is their own profile: no directory, no creating users.
  await expect(
    uma.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Users" }),
  ).toHaveCount(0);
  // (Client-side, as the nav would: a reload would sign out.)
  await goClientSide(uma, "/users");
  await expect(uma.getByRole("heading", { name: "Your profile" })).toBeVisible();
  const profile = uma.getByRole("region", { name: "Profile" });
  await expect(profile).toContainText(name);
  await expect(profile).toContainText(email);
  await expect(uma.getByRole("table", { name: "Users" })).toHaveCount(0);
  await expect(uma.getByRole("form", { name: "New user" })).toHaveCount(0);
  await expect(uma.getByText(other.name)).toHaveCount(0);

  // Chat messages go out as themselves.
  const room = `auth-${unique}`;
  await uma.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Chat" }).click();
  await uma.getByLabel("Join or create a room").fill(room);
  await uma.getByRole("button", { name: "Join" }).click();
  await expect(liveBadge(uma, "Chat feed")).toHaveText("Live");
  await uma.getByLabel("Message", { exact: true }).fill("Hello from a user");
  await uma.getByRole("button", { name: "Send" }).click();
  await expect(
    uma
      .getByRole("log", { name: `Messages in ${room}` })
      .getByRole("listitem")
      .filter({ hasText: "Hello from a user" }),
  ).toContainText(name);
  await context.close();
});

test("the token is kept in memory only: not in localStorage, sessionStorage or cookies", async ({
  page,
  protocol,
  request,
  unique,
}) => {
  const password = `pw-${unique}`;
  const user = await createUser(request, `Mem ${unique}`, `mem-${unique}@example.com`, "", { password });
  await openSignedOut(page, protocol, "/orders");
  // The first call after sign-in carries the session token: that is what must not be stored.
  const authorized = page.waitForRequest(
    (req) => /\/switchboard\.v1\./.test(req.url()) && req.headers().authorization !== undefined,
  );
  await signInWithPassword(page, user.email, password);
  await expect(sessionArea(page)).toContainText(user.name);
  const token = (await authorized).headers().authorization?.replace(/^Bearer /, "") ?? "";
  expect(token.length).toBeGreaterThan(32);
  await expect(liveBadge(page, "Orders feed")).toHaveText("Live");
  for (const value of await storedState(page)) expect(value).not.toContain(token);

  // Nor the admin token, after signing in with it.
  await sessionArea(page).getByRole("button", { name: "Sign out" }).click();
  await signInWithToken(page);
  await expect(sessionArea(page)).toContainText("Admin token");
  for (const value of await storedState(page)) expect(value).not.toContain(adminToken);
});

test("sign out returns to the sign-in screen, and a reload stays signed out", async ({
  page,
  protocol,
  request,
  unique,
}) => {
  const password = `pw-${unique}`;
  const user = await createUser(request, `Sol ${unique}`, `sol-${unique}@example.com`, "", { password });
  await openSignedOut(page, protocol, "/orders");
  await signInWithPassword(page, user.email, password);
  await expect(liveBadge(page, "Orders feed")).toHaveText("Live");

  await sessionArea(page).getByRole("button", { name: "Sign out" }).click();
  await expect(signInHeading(page)).toBeVisible();
  await expect(sessionArea(page)).toHaveCount(0);
  await expect(page.getByRole("table", { name: "Orders" })).toHaveCount(0);
  // The form is empty: nothing of the last session is left on the screen.
  await expect(page.getByLabel("Password", { exact: true })).toHaveValue("");

  await page.reload();
  await expect(signInHeading(page)).toBeVisible();
  await expect(sessionArea(page)).toHaveCount(0);
  // The small print says why.
  await expect(page.getByText(/reloading the page or closing the tab signs you out/)).toBeVisible();
});

test("a wrong password or access token shows the error and signs nobody in", async ({
  page,
  protocol,
  request,
  unique,
}) => {
  const user = await createUser(request, `Wes ${unique}`, `wes-${unique}@example.com`, "", {
    password: `right-${unique}`,
  });
  await openSignedOut(page, protocol, "/users");
  await signInWithPassword(page, user.email, `wrong-${unique}`);
  await expect(page.getByRole("alert")).toHaveText(/wrong email or password/i);
  await expect(sessionArea(page)).toHaveCount(0);
  // An unknown email reads the same, so sign-in does not reveal who has an account. (Once it
  // is answered: until then the same words on screen are the first attempt's.)
  const answered = page.waitForResponse(/\/switchboard\.v1\.AuthService\/SignIn$/);
  await signInWithPassword(page, `nobody-${unique}@example.com`, `wrong-${unique}`);
  await answered;
  await expect(page.getByRole("alert")).toHaveText(/wrong email or password/i);

  await page.getByRole("button", { name: "Use an access token" }).click();
  await page.getByLabel("Access token").fill(`not-the-admin-token-${unique}`);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toContainText("does not accept this access token");
  await expect(sessionArea(page)).toHaveCount(0);
});

test("a user changes their password: this session goes on, their other sessions end, only the new password signs in", async ({
  browser,
  page,
  protocol,
  request,
  unique,
}) => {
  const before = `before-${unique}`;
  const after = `after-${unique}`;
  const user = await createUser(request, `Pat ${unique}`, `pat-${unique}@example.com`, "", {
    password: before,
  });
  await openSignedOut(page, protocol, "/account");
  await signInWithPassword(page, user.email, before);
  // The same user, signed in on another browser too.
  const context = await browser.newContext();
  const elsewhere = await context.newPage();
  await openSignedOut(elsewhere, protocol, "/orders");
  await signInWithPassword(elsewhere, user.email, before);
  await expect(sessionArea(elsewhere)).toBeVisible();

  // Their own details, on the same page: a new name shows in the header at once.
  const details = page.getByRole("form", { name: "Your details" });
  await details.getByLabel("Name").fill(`Patricia ${unique}`);
  await details.getByRole("button", { name: "Save changes" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Saved your details." })).toBeVisible();
  await expect(sessionArea(page)).toContainText(`Patricia ${unique}`);

  const form = page.getByRole("form", { name: "Change password" });
  // A wrong current password is refused, under its field.
  await form.getByLabel("Current password").fill(`wrong-${unique}`);
  await form.getByLabel("New password").fill(after);
  await form.getByRole("button", { name: "Change password" }).click();
  await expect(form.getByLabel("Current password")).toHaveAttribute("aria-invalid", "true");
  await expect(sessionArea(page)).toBeVisible();

  await form.getByLabel("Current password").fill(before);
  await form.getByLabel("New password").fill(after);
  await form.getByRole("button", { name: "Change password" }).click();
  await expect(form.getByRole("status")).toContainText("Password changed");
  // This tab carries on under the new token: its calls and live views keep working.
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Orders" }).click();
  await expect(liveBadge(page, "Orders feed")).toHaveText("Live");
  await expect(page.getByRole("heading", { name: "Your orders" })).toBeVisible();
  await expect(sessionArea(page)).toContainText(`Patricia ${unique}`);
  // The other session ends at once: the server ends its open streams UNAUTHENTICATED.
  await expect(elsewhere.getByRole("status")).toContainText("password was changed");
  await expect(sessionArea(elsewhere)).toHaveCount(0);
  await context.close();

  await sessionArea(page).getByRole("button", { name: "Sign out" }).click();
  await signInWithPassword(page, user.email, before);
  await expect(page.getByRole("alert")).toHaveText(/wrong email or password/i);
  await signInWithPassword(page, user.email, after);
  await expect(sessionArea(page)).toContainText(`Patricia ${unique}`);
});

test("an admin gives a user without a password one, and the admin role", async ({
  browser,
  page,
  protocol,
  request,
  unique,
}) => {
  const user = await createUser(request, `Nia ${unique}`, `nia-${unique}@example.com`);
  const password = `given-${unique}`;
  await open(page, protocol, "/users");
  const table = page.getByRole("table", { name: "Users" });
  await page.getByRole("searchbox", { name: "Search users" }).fill(`nia-${unique}`);
  // As a person would: the list settles on the one match before Edit is pressed (a row that
  // moves under the pointer between press and release is not clicked). Two rows alone may
  // still be the header and "Loading users…".
  await expect(usersCount(page)).toHaveText("1 user");
  await expect(table.getByRole("row")).toHaveCount(2);
  await table.getByRole("button", { name: `Edit ${user.name}` }).click();
  const form = page.getByRole("form", { name: `Edit ${user.name}` });
  await form.getByLabel("New password").fill(password);
  await form.getByLabel("Role").selectOption({ label: "Admin" });
  await form.getByRole("button", { name: "Save changes" }).click();
  await expect(page.getByRole("status").filter({ hasText: `Saved ${user.name}.` })).toBeVisible();

  const context = await browser.newContext();
  const nia = await context.newPage();
  await openSignedOut(nia, protocol, "/users");
  await signInWithPassword(nia, user.email, password);
  await expect(sessionArea(nia)).toContainText(user.name);
  await expect(sessionArea(nia)).toContainText("Admin");
  // An admin signed in as a person sees the directory, and acts as themselves to begin with.
  await expect(nia.getByRole("table", { name: "Users" })).toBeVisible();
  await expect(nia.getByRole("combobox", { name: "Acting as" })).toHaveValue(user.name);
  await context.close();
});

test("a session the server stops accepting (its user was deleted) returns to the sign-in screen", async ({
  page,
  protocol,
  request,
  unique,
}) => {
  const password = `pw-${unique}`;
  const user = await createUser(request, `Del ${unique}`, `del-${unique}@example.com`, "", { password });
  await openSignedOut(page, protocol, "/account");
  await signInWithPassword(page, user.email, password);
  await expect(page.getByRole("heading", { name: "Your profile" })).toBeVisible();

  await rpc(request, "UserService/DeleteUser", { id: user.id });
  // The next call (the Orders page's stream, if nothing open got there first) is answered
  // UNAUTHENTICATED. (Moving client-side, as the nav would, without waiting for a link that
  // may already be gone.)
  await goClientSide(page, "/orders");
  await expect(signInHeading(page)).toBeVisible();
  await expect(page.getByRole("status")).toContainText("Your session has ended");
  await expect(page.getByRole("status")).toContainText("no longer exists");
});
