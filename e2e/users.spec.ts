import {
  createUser,
  escapeRegExp,
  expect,
  open,
  signInWithToken,
  test,
  unaryContentType,
  usersCount,
} from "./support/fixtures.ts";

test("create a user and see it listed", async ({ page, protocol, unique }) => {
  await open(page, protocol, "/users");
  const name = `Ada ${unique}`;
  const form = page.getByRole("form", { name: "New user" });
  await form.getByLabel("Name").fill(name);
  await form.getByLabel("Email").fill(`ada-${unique}@example.com`);
  await form.getByLabel("Age").fill("36");
  const sent = page.waitForRequest(/\/switchboard\.v1\.UserService\/CreateUser$/);
  await form.getByRole("button", { name: "Create user" }).click();
  // The request went out in the protocol the switch names.
  expect((await sent).headers()["content-type"]).toBe(unaryContentType[protocol]);

  const table = page.getByRole("table", { name: "Users" });
  await expect(table.getByRole("row", { name: new RegExp(escapeRegExp(name)) })).toBeVisible();
  await expect(page.getByRole("status").filter({ hasText: `Created ${name}.` })).toBeVisible();
  // The form is ready for the next user.
  await expect(form.getByLabel("Name")).toHaveValue("");

  // It is really stored: a reload (which signs out: the token is kept in memory only) lists
  // it again from the ListUsers stream.
  await page.reload();
  await signInWithToken(page);
  await page.getByRole("searchbox", { name: "Search users" }).fill(`ada-${unique}`);
  // The search's own answer (two rows is also the header and "Loading users…" before any).
  await expect(usersCount(page)).toHaveText("1 user");
  await expect(table.getByRole("row")).toHaveCount(2);
  await expect(table.getByRole("row", { name: new RegExp(escapeRegExp(name)) })).toBeVisible();
});

test("an invalid email shows the field error", async ({ page, protocol, unique }) => {
  await open(page, protocol, "/users");
  const form = page.getByRole("form", { name: "New user" });
  await form.getByLabel("Name").fill(`Bad Email ${unique}`);
  await form.getByLabel("Email").fill("not-an-email");
  await form.getByLabel("Age").fill("30");
  await form.getByRole("button", { name: "Create user" }).click();

  // The message comes from the INVALID_ARGUMENT's buf.validate.Violations, under its field.
  const email = form.getByLabel("Email");
  await expect(email).toHaveAttribute("aria-invalid", "true");
  await expect(email).toHaveAccessibleDescription(/email/i);
  await expect(form.getByLabel("Name")).not.toHaveAttribute("aria-invalid", "true");

  // Fixing it clears the error and creates the user.
  await email.fill(`fixed-${unique}@example.com`);
  await form.getByRole("button", { name: "Create user" }).click();
  await expect(page.getByRole("status").filter({ hasText: `Created Bad Email ${unique}.` })).toBeVisible();
  await expect(email).not.toHaveAttribute("aria-invalid", "true");
});

test("edit, search and delete a user", async ({ page, protocol, unique, request }) => {
  const user = await createUser(request, `Grace ${unique}`, `grace-${unique}@example.com`);
  await open(page, protocol, "/users");
  const table = page.getByRole("table", { name: "Users" });
  await page.getByRole("searchbox", { name: "Search users" }).fill(`grace-${unique}`);
  // Until the search's answer is in, the rows shown are marked as about to go (the search
  // waits 200 ms for more typing first).
  await expect(table).toHaveAttribute("aria-busy", "true");
  // The list settles on the one match before Edit is pressed: two rows alone may still be the
  // header and "Loading users…", and the whole directory may land (then be replaced by the
  // match, moving its row) after that.
  await expect(usersCount(page)).toHaveText("1 user");
  await expect(table.getByRole("row")).toHaveCount(2);
  await expect(table).not.toHaveAttribute("aria-busy");

  await table.getByRole("button", { name: `Edit ${user.name}` }).click();
  const form = page.getByRole("form", { name: `Edit ${user.name}` });
  await expect(form.getByLabel("Email")).toHaveValue(user.email);
  await form.getByLabel("Name").fill(`Grace Hopper ${unique}`);
  await form.getByRole("button", { name: "Save changes" }).click();
  await expect(
    table.getByRole("row", { name: new RegExp(`Grace Hopper ${escapeRegExp(unique)}`) }),
  ).toBeVisible();

  await table.getByRole("button", { name: `Delete Grace Hopper ${unique}` }).click();
  const dialog = page.getByRole("dialog", { name: "Delete user" });
  await dialog.getByRole("button", { name: "Delete" }).click();
  await expect(dialog).toBeHidden();
  await expect(table.getByRole("row")).toHaveCount(2); // the header and "no users match"
  await expect(table).toContainText(`No users match`);
});
