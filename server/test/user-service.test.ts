// Every UserService RPC over every protocol, against the real server and database.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { FieldMaskSchema } from "@bufbuild/protobuf/wkt";
import { ViolationsSchema } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { Code, ConnectError } from "@connectrpc/connect";
import { UserSchema, UserService } from "../../gen/switchboard/v1/user_pb.js";
import { clientFor, collect, protocolNames, streamOf } from "./support/clients.ts";
import { startTestServer, type TestServer } from "./support/test-server.ts";

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server?.close();
});

async function rejects(promise: Promise<unknown>, code: Code, pattern?: RegExp): Promise<ConnectError> {
  try {
    await promise;
  } catch (err) {
    const ce = ConnectError.from(err);
    assert.equal(Code[ce.code], Code[code], ce.message);
    if (pattern) assert.match(ce.rawMessage, pattern);
    return ce;
  }
  assert.fail(`expected ${Code[code]}`);
}

for (const protocol of protocolNames) {
  describe(`UserService over ${protocol}`, () => {
    const tag = protocol.replace(/[^a-z]/g, "");
    const users = () => clientFor(UserService, server.url, protocol);

    test("create, get, update with mask and version, delete", async () => {
      const email = `ada-${tag}@example.com`;
      const { user } = await users().createUser({ name: "Ada", email, age: 36 });
      assert.ok(user);
      assert.match(user.id, /^[0-9a-f-]{36}$/);
      assert.equal(user.version, 1n);
      assert.ok(user.createTime && user.updateTime);

      const got = await users().getUser({ id: user.id });
      assert.equal(got.user?.email, email);

      const updated = await users().updateUser({
        user: create(UserSchema, { id: user.id, name: "Ada L.", age: 99 }),
        updateMask: create(FieldMaskSchema, { paths: ["name"] }),
        expectedVersion: 1n,
      });
      assert.equal(updated.user?.name, "Ada L.");
      assert.equal(updated.user?.age, 36, "age is not in the mask, so it must not change");
      assert.equal(updated.user?.version, 2n);

      await rejects(
        users().updateUser({
          user: create(UserSchema, { id: user.id, name: "Stale" }),
          updateMask: create(FieldMaskSchema, { paths: ["name"] }),
          expectedVersion: 1n,
        }),
        Code.Aborted,
        /version 2/,
      );

      await users().deleteUser({ id: user.id });
      await rejects(users().getUser({ id: user.id }), Code.NotFound);
      await rejects(users().deleteUser({ id: user.id }), Code.NotFound);
    });

    test("errors carry the right codes", async () => {
      const email = `dup-${tag}@example.com`;
      await users().createUser({ name: "Dup", email, age: 20 });
      await rejects(
        users().createUser({ name: "Dup", email: email.toUpperCase(), age: 20 }),
        Code.AlreadyExists,
      );
      const invalid = await rejects(
        users().createUser({ name: "", email: "not-an-email", age: 0 }),
        Code.InvalidArgument,
      );
      const [violations] = invalid.findDetails(ViolationsSchema);
      const fields = violations?.violations.map((v) => v.field?.elements[0]?.fieldName).sort();
      assert.deepEqual(fields, ["age", "email", "name"]);
      await rejects(users().getUser({ id: "not-a-uuid" }), Code.InvalidArgument, /id/);
      await rejects(users().getUser({ id: randomUUID() }), Code.NotFound);
      await rejects(
        users().updateUser({
          user: create(UserSchema, { id: randomUUID(), name: "x" }),
          updateMask: create(FieldMaskSchema, { paths: ["id"] }),
        }),
        Code.InvalidArgument,
        /update_mask/,
      );
      await rejects(
        users().updateUser({
          user: create(UserSchema, { id: randomUUID() }),
          updateMask: create(FieldMaskSchema, { paths: ["email"] }),
        }),
        Code.InvalidArgument,
        /email/,
      );
      await rejects(
        users().updateUser({
          user: create(UserSchema, { id: randomUUID(), name: "x" }),
          updateMask: create(FieldMaskSchema, { paths: ["name"] }),
        }),
        Code.NotFound,
      );
    });

    test("concurrent CreateUser calls share statements and are each answered on their own", async () => {
      // 60 calls at once: more than the server's insert slots, so most go in multi-row
      // statements (user-inserts.ts). Every fourth repeats an email: exactly one of each
      // pair is created, the other is ALREADY_EXISTS with the message a lone call gets.
      const client = users();
      const emailOf = (i: number) => `many-${tag}-${i % 4 === 3 ? i - 1 : i}@example.com`;
      const outcomes = await Promise.allSettled(
        Array.from({ length: 60 }, (_, i) =>
          client.createUser({ name: `Many ${i}`, email: emailOf(i), age: 20 + i }),
        ),
      );
      const created = new Map<string, { name: string; age: number; id: string }>();
      outcomes.forEach((outcome, i) => {
        if (outcome.status === "fulfilled") {
          const user = outcome.value.user;
          assert.ok(user, `call ${i} created a user`);
          assert.equal(user.email, emailOf(i));
          assert.equal(user.name, `Many ${i}`, "each call gets its own row back");
          assert.equal(user.age, 20 + i);
          assert.equal(user.version, 1n);
          assert.ok(!created.has(user.email), `${user.email} created once`);
          created.set(user.email, { name: user.name, age: user.age, id: user.id });
        } else {
          const err = ConnectError.from(outcome.reason);
          assert.equal(Code[err.code], "AlreadyExists", `call ${i}: ${err.message}`);
          assert.equal(err.rawMessage, "a user with this email already exists");
          assert.equal(i % 4 === 3 || i % 4 === 2, true, `call ${i} has a twin`);
        }
      });
      assert.equal(created.size, 45, "one user per distinct email");
      for (const { id, name, age } of created.values()) {
        const { user } = await client.getUser({ id });
        assert.deepEqual([user?.name, user?.age], [name, age], "the stored row is the answered one");
      }
    });

    test("ListUsers streams every match in keyset pages and resumes after a cursor", async () => {
      const prefix = `list-${tag}-`;
      const batch = await users().batchCreateUsers(
        streamOf(
          Array.from({ length: 25 }, (_, i) => ({
            name: `${prefix}${i}`,
            email: `${prefix}${i}@example.com`,
            age: 30,
          })),
        ),
      );
      assert.equal(batch.successCount, 25);
      const all = await collect(users().listUsers({ pageSize: 7, query: prefix }));
      assert.deepEqual(
        all.map((r) => r.user?.name),
        Array.from({ length: 25 }, (_, i) => `${prefix}${i}`),
        "ids are time-ordered, so stream order is insertion order",
      );
      const tail = await collect(users().listUsers({ pageSize: 4, query: prefix, after: all[19]?.user?.id }));
      assert.deepEqual(
        tail.map((r) => r.user?.name),
        [20, 21, 22, 23, 24].map((i) => `${prefix}${i}`),
      );
      const none = await collect(users().listUsers({ query: "%" }));
      assert.equal(none.length, 0, "LIKE wildcards in the query are matched literally");
    });

    test("BatchCreateUsers reports bad items by index without ending the stream", async () => {
      const prefix = `batch-${tag}-`;
      await users().createUser({ name: "Taken", email: `${prefix}taken@example.com`, age: 40 });
      const res = await users().batchCreateUsers(
        streamOf([
          { name: "A", email: `${prefix}a@example.com`, age: 1 },
          { name: "", email: `${prefix}b@example.com`, age: 1 },
          { name: "C", email: `${prefix}taken@example.com`, age: 1 },
          { name: "D", email: `${prefix}a@example.com`, age: 1 },
          { name: "E", email: `${prefix}e@example.com`, age: 200 },
          { name: "F", email: `${prefix}f@example.com`, age: 2 },
        ]),
      );
      assert.equal(res.successCount, 2);
      assert.equal(res.failureCount, 4);
      assert.deepEqual(
        res.users.map((u) => u.name),
        ["A", "F"],
      );
      assert.deepEqual(
        res.failures.map((f) => [f.index, Code[f.code]]),
        [
          [1, "InvalidArgument"],
          [2, "AlreadyExists"],
          [3, "AlreadyExists"],
          [4, "InvalidArgument"],
        ],
      );
      assert.match(res.failures[0]?.reason ?? "", /name/);
    });

    // Bidi needs full duplex, which HTTP/1.1 does not give: only the HTTP/2 protocols run it.
    const fullDuplex = protocol === "grpc" || protocol === "connect-binary-h2c";
    test("UserStream answers every operation in band, errors included", {
      skip: !fullDuplex && "HTTP/1.1 is half duplex",
    }, async () => {
      const email = `stream-${tag}@example.com`;
      const answers: { id: string; case: string | undefined; code?: number }[] = [];
      let createdId = "";
      // Requests are produced as answers arrive: proof that answers flow while the client sends.
      const requests = async function* () {
        yield {
          requestId: "c1",
          operation: { case: "create" as const, value: { name: "S", email, age: 5 } },
        };
        while (!createdId) await new Promise((r) => setTimeout(r, 5));
        yield { requestId: "g1", operation: { case: "get" as const, value: { id: createdId } } };
        yield { requestId: "bad", operation: { case: "get" as const, value: { id: "nope" } } };
        yield {
          requestId: "dup",
          operation: { case: "create" as const, value: { name: "S", email, age: 5 } },
        };
        yield {
          requestId: "u1",
          operation: {
            case: "update" as const,
            value: {
              user: create(UserSchema, { id: createdId, age: 6 }),
              updateMask: create(FieldMaskSchema, { paths: ["age"] }),
            },
          },
        };
        yield { requestId: "d1", operation: { case: "delete" as const, value: { id: createdId } } };
        yield { requestId: "missing", operation: { case: "get" as const, value: { id: createdId } } };
      };
      for await (const res of users().userStream(requests())) {
        if (res.requestId === "c1" && res.result.case === "user") createdId = res.result.value.id;
        answers.push({
          id: res.requestId,
          case: res.result.case,
          ...(res.result.case === "error" ? { code: res.result.value.code } : {}),
        });
      }
      assert.deepEqual(answers, [
        { id: "c1", case: "user" },
        { id: "g1", case: "user" },
        { id: "bad", case: "error", code: Code.InvalidArgument },
        { id: "dup", case: "error", code: Code.AlreadyExists },
        { id: "u1", case: "user" },
        { id: "d1", case: "deleted" },
        { id: "missing", case: "error", code: Code.NotFound },
      ]);
    });
  });
}
