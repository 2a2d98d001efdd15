import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { openTestDatabase } from "../../test/support/test-database.ts";
import type { Database } from "../db/database.ts";
import { startUserImport } from "./user-import.ts";
import * as store from "./user-store.ts";

let database: Database;
before(async () => {
  database = await openTestDatabase(4);
});
after(async () => {
  await database?.close();
});

test("createUser lower-cases the email and starts at version 1", async () => {
  const row = await store.createUser(database.db, { name: "Grace", email: "Grace@Example.COM", age: 85 });
  assert.equal(row.email, "grace@example.com");
  assert.equal(row.version, 1);
  assert.deepEqual(await store.getUser(database.db, row.id), row);
});

test("updateUser bumps the version and tells stale from missing", async () => {
  const row = await store.createUser(database.db, { name: "Alan", email: "alan@example.com", age: 41 });
  const first = await store.updateUser(database.db, row.id, { age: 42 }, 1);
  assert.equal(first.kind, "updated");
  assert.equal(first.kind === "updated" && first.user.version, 2);
  assert.equal(first.kind === "updated" && first.user.name, "Alan");
  assert.deepEqual(await store.updateUser(database.db, row.id, { age: 43 }, 1), {
    kind: "stale",
    currentVersion: 2,
  });
  assert.deepEqual(await store.updateUser(database.db, "00000000-0000-7000-8000-000000000000", { age: 1 }), {
    kind: "not_found",
  });
});

test("listUsersPage walks the table in id order, page by page", async () => {
  const { rows: made } = await startUserImport().write(
    database.db,
    Array.from({ length: 10 }, (_, i) => ({ name: `page-${i}`, email: `page-${i}@example.com`, age: 1 })),
    10,
  );
  const seen: string[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await store.listUsersPage(database.db, { after, query: "page-", limit: 3 });
    seen.push(...page.map((r) => r.name));
    if (page.length < 3) break;
    after = page.at(-1)?.id;
  }
  assert.deepEqual(
    seen,
    made.map((r) => r.name),
  );
});

test("deleteUser reports whether a row went", async () => {
  const row = await store.createUser(database.db, { name: "Gone", email: "gone@example.com", age: 1 });
  assert.equal(await store.deleteUser(database.db, row.id), true);
  assert.equal(await store.deleteUser(database.db, row.id), false);
});
