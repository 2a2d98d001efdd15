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

test("insertUsers creates what createUser would, skipping taken emails, in one statement", async () => {
  const alone = await store.createUser(database.db, { name: "Solo", email: "solo@example.com", age: 30 });
  const rows = await store.insertUsers(database.db, [
    { name: "One", email: "One@Batch.example", age: 1 },
    { name: "Taken", email: "SOLO@example.com", age: 2 },
    { name: "Admin", email: "admin@batch.example", age: 3, role: "admin", passwordHash: "hash" },
    { name: "Twin", email: "one@batch.example", age: 4 },
  ]);
  assert.deepEqual(
    rows.map((r) => r?.name),
    ["One", undefined, "Admin", undefined],
    "a taken email, in the table or earlier in the batch, creates nothing",
  );
  const [one, , admin] = rows;
  assert.ok(one && admin);
  assert.equal(one.email, "one@batch.example");
  assert.equal(one.role, "user");
  assert.equal(admin.role, "admin");
  assert.equal(await store.getPasswordHash(database.db, admin.id), "hash");
  assert.equal(await store.getPasswordHash(database.db, one.id), null);
  // The columns a batch does not give take the defaults a single INSERT gets.
  const shape = (r: typeof alone) => ({
    version: r.version,
    sameTimes: r.createTime.getTime() === r.updateTime.getTime(),
  });
  assert.deepEqual(shape(one), shape(alone));
  assert.ok(Math.abs(one.createTime.getTime() - Date.now()) < 60_000);
  assert.deepEqual(await store.getUser(database.db, one.id), one);
  assert.ok(one.id > alone.id, "ids still follow creation order");
});

// PGlite has one connection: its statements never run at once, so nothing could deadlock.
const concurrent = { skip: process.env.DATABASE_URL ? false : "needs PostgreSQL (DATABASE_URL)" };

test(
  "multi-row inserts sharing emails in opposite orders wait for each other, never deadlock",
  concurrent,
  async () => {
    // Without a common order two such statements deadlocked in 5 of 20 tries (PostgreSQL then
    // aborts one: a CreateUser batch answered ABORTED for calls that had done nothing wrong).
    for (let round = 0; round < 20; round++) {
      const forward = Array.from({ length: 60 }, (_, i) => ({
        name: `F${i}`,
        email: `order-${round}-${i}@example.com`,
        age: 1,
      }));
      const backward = [...forward].reverse().map((u) => ({ ...u, name: `B${u.name}` }));
      const imports = [startUserImport(), startUserImport()];
      const [a, b, c, d] = await Promise.all([
        store.insertUsers(database.db, forward),
        store.insertUsers(database.db, backward),
        imports[0]?.write(
          database.db,
          forward.map((u) => ({ ...u, email: `import-${u.email}` })),
          0,
        ),
        imports[1]?.write(
          database.db,
          backward.map((u) => ({ ...u, email: `import-${u.email}` })),
          0,
        ),
      ]);
      const createdBy = (rows: (unknown | undefined)[] | undefined) => rows?.filter(Boolean).length ?? 0;
      assert.equal(createdBy(a) + createdBy(b), 60, "each email created once, by one of the two");
      assert.equal((c?.created ?? 0) + (d?.created ?? 0), 60, "each imported email created once");
    }
  },
);

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
