import { createUser, expect, liveBadge, open, rpc, test } from "./support/fixtures.ts";

interface OrderAnswer {
  order: { id: string; status: string };
}

// A server of its own: starting (and restarting) one takes a while on a busy machine.
test.slow();

test("after the server restarts, the Orders table reconnects and shows what changed during the outage", async ({
  page,
  protocol,
  unique,
  request,
  ownServer,
}) => {
  const base = ownServer.url;
  const user = await createUser(request, `Rita ${unique}`, `rita-${unique}@example.com`, base);
  const order = (product: string) => ({
    user_id: user.id,
    product_id: product,
    quantity: 1,
    idempotency_key: `${product}-key`,
  });
  const before = await rpc<OrderAnswer>(request, "OrderService/CreateOrder", order("sku-before"), base);

  await open(page, protocol, "/orders", base);
  const badge = liveBadge(page, "Orders feed");
  const table = page.getByRole("table", { name: "Orders" });
  await expect(badge).toHaveText("Live");
  await expect(table.getByRole("row").filter({ hasText: "sku-before" })).toContainText("Pending");

  // The browser loses its way to the server (its RPCs fail as on a dropped network), then the
  // server stops gracefully: the stream ends with UNAVAILABLE and the page says so.
  await page.route(/\/(switchboard\.v1|grpc\.health\.v1)\./, (route) => route.abort("connectionrefused"));
  await ownServer.stop();
  await expect(badge).toHaveText("Reconnecting…");

  // The server comes back and takes a new order and a move of the old one while the page is
  // still cut off, so they can only reach it by resuming from its cursor.
  await ownServer.start();
  await rpc(request, "OrderService/CreateOrder", order("sku-during-outage"), base);
  await rpc(
    request,
    "OrderService/UpdateOrderStatus",
    { id: before.order.id, status: "ORDER_STATUS_PAID" },
    base,
  );
  await expect(badge).toHaveText("Reconnecting…");

  await page.unrouteAll();
  // The stream tries again after a backoff of up to 3 s, and the server it reaches has only
  // just started: on a busy machine, that can take longer than the default 10 s.
  await expect(badge).toHaveText("Live", { timeout: 30_000 });
  await expect(table.getByRole("row").filter({ hasText: "sku-during-outage" })).toContainText("Pending");
  await expect(table.getByRole("row").filter({ hasText: "sku-before" })).toContainText("Paid");
  // Nothing twice: the header and two orders.
  await expect(table.getByRole("row")).toHaveCount(3);

  // And it is live again.
  await rpc(request, "OrderService/CreateOrder", order("sku-after"), base);
  await expect(table.getByRole("row").filter({ hasText: "sku-after" })).toBeVisible();
  await expect(table.getByRole("row")).toHaveCount(4);
});
