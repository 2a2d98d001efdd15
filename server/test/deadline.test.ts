// The server's own deadline enforcement against real database work: a call whose deadline
// passes while its query waits on a lock ends with DEADLINE_EXCEEDED, and the query itself is
// cancelled in PostgreSQL instead of running on for a client that is gone.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { FieldMaskSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import postgres from "postgres";
import { UserSchema, UserService } from "../../gen/switchboard/v1/user_pb.js";
import { clientFor } from "./support/clients.ts";
import { startTestServer, type TestServer } from "./support/test-server.ts";

const needsPostgres = process.env.DATABASE_URL
  ? false
  : "needs DATABASE_URL: PGlite runs one query at a time in-process";

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server?.close();
});

test("a call blocked on a row lock ends at its deadline and its query is cancelled", {
  skip: needsPostgres,
  timeout: 20_000,
}, async () => {
  const client = clientFor(UserService, server.url, "grpc");
  const { user } = await client.createUser({ name: "Locked", email: "locked@example.com", age: 30 });
  assert.ok(user);
  const url = (server.ctx.config.databaseUrl ?? "") as string;
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await sql.begin(async (tx) => {
      await tx`select * from users where id = ${user.id} for update`;
      const started = Date.now();
      await assert.rejects(
        client.updateUser(
          {
            user: create(UserSchema, { id: user.id, age: 31 }),
            updateMask: create(FieldMaskSchema, { paths: ["age"] }),
          },
          { timeoutMs: 300 },
        ),
        (err: unknown) => ConnectError.from(err).code === Code.DeadlineExceeded,
      );
      assert.ok(
        Date.now() - started < 3000,
        "the answer comes at the deadline, not when the lock is released",
      );
      // The blocked UPDATE must be gone from the server's connections while we still hold the lock.
      let waiting = 1;
      for (let i = 0; i < 50 && waiting > 0; i++) {
        const [row] = await tx`select count(*)::int as n from pg_stat_activity
          where datname = current_database() and pid <> pg_backend_pid() and wait_event_type = 'Lock'`;
        waiting = row?.n ?? 0;
        if (waiting > 0) await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(waiting, 0, "no query of the server still waits on the lock");
    });
  } finally {
    await sql.end();
  }
  const { user: after } = await client.getUser({ id: user.id });
  assert.equal(after?.age, 30, "the cancelled update did not apply after the lock was released");
});
