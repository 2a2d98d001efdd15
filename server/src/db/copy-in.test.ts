import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import postgres from "postgres";
import { createTestDatabase, type TestDatabase } from "../../test/support/test-database.ts";
import { copyField, copyIn } from "./copy-in.ts";
import { sqlState } from "./errors.ts";

// COPY FROM STDIN exists on PostgreSQL only (PGlite imports take the INSERT path).
const skip = process.env.DATABASE_URL ? false : "needs DATABASE_URL (PostgreSQL)";

let testDb: TestDatabase;
let sql: postgres.Sql;
before(async () => {
  if (skip) return;
  testDb = await createTestDatabase();
  // One connection: a COPY that failed must leave it fit for the next statement.
  sql = postgres(testDb.url ?? "", { max: 1, onnotice: () => {} });
  await sql`create table copied (id int primary key, label text not null)`;
});
after(async () => {
  await sql?.end();
  await testDb?.drop();
});

test("copyIn writes the rows, fields escaped", { skip }, async () => {
  const labels = ["plain", "tab\tand\nnewline", "back\\slash\r"];
  await copyIn(sql, "copied", ["id", "label"], labels.map((l, i) => `${i}\t${copyField(l)}\n`).join(""));
  const rows = await sql<{ label: string }[]>`select label from copied order by id`;
  assert.deepEqual(
    rows.map((r) => r.label),
    labels,
  );
});

test("a COPY the server rejects after its last row rejects, and copies nothing", { skip }, async () => {
  // The duplicate is the last row: the server sees it only after the end of the data, which
  // postgres 3.4.9 alone would never report (porsager/postgres#1173).
  const lines = "10\tnew\n11\tnew too\n0\tduplicate\n";
  const err = await copyIn(sql, "copied", ["id", "label"], lines).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.equal(sqlState(err), "23505");
  const [row] = await sql<{ n: number }[]>`select count(*)::int as n from copied where id >= 10`;
  assert.equal(row?.n, 0);
});

test("inside a transaction a failed COPY rolls back and the connection goes on", { skip }, async () => {
  await assert.rejects(
    sql.begin((tx) => copyIn(tx, "copied", ["id", "label"], "20\tx\n1\tduplicate\n")),
    (e: unknown) => sqlState(e) === "23505",
  );
  const [row] = await sql<{ n: number }[]>`select count(*)::int as n from copied`;
  assert.equal(row?.n, 3);
});
