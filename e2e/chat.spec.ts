import { actAs, createUser, expect, liveBadge, open, test } from "./support/fixtures.ts";
import { postOverGrpcJsBidi } from "./support/grpc-chat.ts";

test("two browser contexts chat in one room", async ({ browser, page, protocol, unique, request }) => {
  const ann = await createUser(request, `Ann ${unique}`, `ann-${unique}@example.com`);
  const bob = await createUser(request, `Bob ${unique}`, `bob-${unique}@example.com`);
  const room = `e2e-${unique}`;

  // Ann finds the chat through the navigation: `general` always exists and has its own URL.
  await open(page, protocol, "/users");
  await actAs(page, ann);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Chat" }).click();
  await expect(page).toHaveURL(/\/chat\/general(\?|$)/);
  await expect(page.getByRole("heading", { name: "general", exact: true })).toBeVisible();
  await expect(liveBadge(page, "Chat feed")).toHaveText("Live");
  // Then into a room of her own, by name: it gets its URL.
  await page.getByLabel("Join or create a room").fill(room);
  await page.getByRole("button", { name: "Join" }).click();
  await expect(page).toHaveURL(new RegExp(`/chat/${room}(\\?|$)`));

  const other = await browser.newContext();
  const bobPage = await other.newPage();
  await open(bobPage, protocol, `/chat/${room}`);
  await actAs(bobPage, bob);

  const annLog = page.getByRole("log", { name: `Messages in ${room}` });
  const bobLog = bobPage.getByRole("log", { name: `Messages in ${room}` });
  await expect(liveBadge(page, "Chat feed")).toHaveText("Live");
  await expect(liveBadge(bobPage, "Chat feed")).toHaveText("Live");

  await page.getByLabel("Message", { exact: true }).fill("Hello Bob, are you there?");
  await page.getByRole("button", { name: "Send" }).click();
  await expect(bobLog.getByRole("listitem").filter({ hasText: "Hello Bob, are you there?" })).toContainText(
    ann.name,
  );

  await bobPage.getByLabel("Message", { exact: true }).fill("Hi Ann! Loud and clear.");
  await bobPage.getByLabel("Message", { exact: true }).press("Enter");
  await expect(annLog.getByRole("listitem").filter({ hasText: "Loud and clear." })).toContainText(bob.name);

  // Both see the same conversation, once each, in the same order.
  const expected = [/Hello Bob/, /Loud and clear/];
  await expect(annLog.getByRole("listitem")).toHaveText(expected);
  await expect(bobLog.getByRole("listitem")).toHaveText(expected);
  await other.close();
});

test("a message sent by a grpc-js bidi client appears in the browser", async ({
  page,
  protocol,
  unique,
  request,
}) => {
  const linus = await createUser(request, `Linus ${unique}`, `linus-${unique}@example.com`);
  const room = `grpc-${unique}`;
  await open(page, protocol, `/chat/${room}`);
  await expect(liveBadge(page, "Chat feed")).toHaveText("Live");

  const content = `Sent over gRPC by grpc-js (${unique})`;
  await postOverGrpcJsBidi(new URL(page.url()).origin, { room, user_id: linus.id, content });

  const message = page
    .getByRole("log", { name: `Messages in ${room}` })
    .getByRole("listitem")
    .filter({ hasText: content });
  await expect(message).toBeVisible();
  await expect(message).toContainText(linus.name);
});
