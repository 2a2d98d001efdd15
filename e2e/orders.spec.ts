import type { Page } from "@playwright/test";
import { actAs, createUser, expect, liveBadge, open, test } from "./support/fixtures.ts";

function rowIn(page: Page, product: string) {
  return page.getByRole("table", { name: "Orders" }).getByRole("row").filter({ hasText: product });
}

test("create an order and move it to SHIPPED while a second browser context sees it live", async ({
  browser,
  page,
  protocol,
  unique,
  request,
}) => {
  const customer = await createUser(request, `Olga ${unique}`, `olga-${unique}@example.com`);
  const product = `sku-${unique}`;

  // A second browser context (its own cookies, storage and connections) acts as the customer.
  const other = await browser.newContext();
  const watcher = await other.newPage();
  await open(watcher, protocol, "/orders");
  await actAs(watcher, customer);
  await expect(liveBadge(watcher, "Orders feed")).toHaveText("Live");

  await open(page, protocol, "/orders");
  await expect(liveBadge(page, "Orders feed")).toHaveText("Live");
  const form = page.getByRole("form", { name: "New order" });
  await form.getByRole("combobox", { name: "Customer" }).fill(customer.email);
  // The suggestions settle on the one match before it is picked (see actAs).
  const suggestions = page.getByRole("listbox", { name: "Customer suggestions" });
  await expect(suggestions.getByRole("option")).toHaveCount(1);
  await page.getByRole("option", { name: new RegExp(customer.email) }).click();
  await form.getByLabel("Product").fill(product);
  await form.getByLabel("Quantity").fill("2");
  await form.getByRole("button", { name: "Create order" }).click();

  const row = rowIn(page, product);
  const watched = rowIn(watcher, product);
  await expect(row).toContainText("Pending");
  await expect(watched).toContainText("Pending");
  await expect(watched).toContainText(customer.name);
  // Only the legal moves are offered.
  await expect(row.getByRole("button")).toHaveText(["Mark paid", "Cancel"]);

  // The moves are made from the keyboard: this admin's table has every test's orders, and one
  // created meanwhile arrives live at its top, moving this row down, maybe between a mouse
  // press and release (as does the "Created order" notice above the table, coming or going).
  await row.getByRole("button", { name: "Mark paid" }).press("Enter");
  await expect(watched).toContainText("Paid");
  await expect(row.getByRole("button")).toHaveText(["Ship", "Cancel"]);

  await row.getByRole("button", { name: "Ship" }).press("Enter");
  await expect(watched).toContainText("Shipped");
  await expect(row).toContainText("Shipped");
  await expect(row.getByRole("button")).toHaveText(["Mark delivered"]);

  // Each status change notified the customer: the watcher's tray has both, live.
  const tray = watcher.getByRole("button", { name: /Notifications/ });
  await expect(tray).toHaveAccessibleName(/2 unread/);
  await tray.click();
  const panel = watcher.getByRole("dialog", { name: "Notifications" });
  await expect(liveBadge(watcher, "Notifications feed")).toHaveText("Live");
  await expect(panel.getByRole("listitem").first()).toContainText("Order shipped");
  await expect(panel.getByRole("listitem").nth(1)).toContainText("Order paid");
  await other.close();
});
