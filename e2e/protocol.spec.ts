import {
  escapeRegExp,
  expect,
  liveBadge,
  open,
  type Protocol,
  protocols,
  signInWithToken,
  test,
  unaryContentType,
} from "./support/fixtures.ts";

/** The content type of a streaming call in each protocol. */
const streamContentType: Record<Protocol, string> = {
  "connect-json": "application/connect+json",
  "connect-binary": "application/connect+proto",
  "grpc-web": "application/grpc-web+proto",
};

test("the protocol switch moves live views and calls to another protocol, and stays with the tab", async ({
  page,
  protocol,
  unique,
}) => {
  const next = protocols[(protocols.indexOf(protocol) + 1) % protocols.length] as Protocol;
  await open(page, protocol, "/orders");
  await expect(liveBadge(page, "Orders feed")).toHaveText("Live");

  // The orders stream reconnects over the new protocol (from its cursor).
  const resumed = page.waitForRequest(
    (req) =>
      req.url().endsWith("/switchboard.v1.OrderService/StreamOrders") &&
      req.headers()["content-type"] === streamContentType[next],
  );
  await page.getByLabel("Protocol").selectOption(next);
  await resumed;
  await expect(page).toHaveURL(new RegExp(`/orders\\?protocol=${next}$`));
  await expect(liveBadge(page, "Orders feed")).toHaveText("Live");

  // Another page and a reload keep the choice (the reload signs out, so sign in again: the
  // sign-in itself goes out in the chosen protocol).
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Users" }).click();
  await expect(page).toHaveURL(new RegExp(`/users\\?protocol=${next}$`));
  await page.reload();
  const checked = page.waitForRequest(/\/switchboard\.v1\.AuthService\/GetSession$/);
  await signInWithToken(page);
  expect((await checked).headers()["content-type"]).toBe(unaryContentType[next]);
  await expect(page.getByLabel("Protocol")).toHaveValue(next);

  // Unary calls go out in it too.
  const form = page.getByRole("form", { name: "New user" });
  await form.getByLabel("Name").fill(`Switch ${unique}`);
  await form.getByLabel("Email").fill(`switch-${unique}@example.com`);
  await form.getByLabel("Age").fill("40");
  const sent = page.waitForRequest(/\/switchboard\.v1\.UserService\/CreateUser$/);
  await form.getByRole("button", { name: "Create user" }).click();
  expect((await sent).headers()["content-type"]).toBe(unaryContentType[next]);
  await expect(
    page
      .getByRole("table", { name: "Users" })
      .getByRole("row", { name: new RegExp(escapeRegExp(`Switch ${unique}`)) }),
  ).toBeVisible();
});
