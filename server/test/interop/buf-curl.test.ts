// buf curl against the running server: every RPC kind over Connect (HTTP/1.1 and h2c), gRPC
// (h2c) and gRPC-Web (HTTP/1.1), with the schema from gen/switchboard.binpb and then from the
// server's own reflection service, and every OrderService, NotificationService (order-cases.ts)
// and ChatService RPC (chat-cases.ts) the same ways, and AuthService with the access cases
// (auth-cases.ts). Each cell also checks, from buf curl's verbose log, that the call really went
// over the HTTP version its row names, and that the RPC carried the bearer token (`-H`) while
// reflection calls carried none. buf curl reads a live stream until it is stopped: the cases
// stop it after the messages they expect, or it is given a --timeout.
import assert from "node:assert/strict";
import { after, before } from "node:test";
import { startTestServer, type TestServer } from "../support/test-server.ts";
import { authCells, authColumns, authProcedures } from "./auth-cases.ts";
import {
  assertAuthorization,
  assertHttp,
  type BufCurlResult,
  type BufProtocol,
  bufCurl,
  bufCurlClient,
  bufProtocols,
} from "./buf-curl.ts";
import { chatCells, chatProcedures, chatRpcs } from "./chat-cases.ts";
import { matrixFor } from "./matrix.ts";
import {
  assertSubscriptionsBackTo,
  liveSubscriptions,
  orderCells,
  orderRpcs,
  procedures,
} from "./order-cases.ts";
import { seedUsers } from "./users-table.ts";

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server?.close();
});

const { cell, notApplicable } = matrixFor("buf-curl");
const service = "switchboard.v1.UserService";
const unknownId = "01890000-0000-7000-8000-000000000000";

type Json = Record<string, unknown>;

function succeeded(r: BufCurlResult): void {
  assert.equal(r.exitCode, 0, `buf curl failed:\n${r.stderr}`);
}

function rpcCells(schema: "binpb" | "reflection"): void {
  for (const protocol of Object.keys(bufProtocols) as BufProtocol[]) {
    const { http } = bufProtocols[protocol];
    const row = `buf curl · ${protocol} · ${schema === "binpb" ? "--schema" : "reflection"}`;
    const tag = `${schema}-${protocol.replace(/[^A-Za-z0-9]+/g, "-")}`.toLowerCase();
    const call = async (method: string, messages: unknown[]) => {
      const r = await bufCurl({
        baseUrl: server.url,
        procedure: `${service}/${method}`,
        protocol,
        schema,
        messages,
      });
      assertAuthorization(r, true);
      return r;
    };
    const ref = (column: string) => ({ table: "clients" as const, row, column });

    if (schema === "reflection" && http === "1.1") {
      // buf curl's reflection client is a bidi stream, so buf curl switches the whole command to h2c.
      const cells = [
        ...["unary", "server stream", "client stream", "bidi"].map(ref),
        ...orderRpcs.map((column) => ({ table: "rpcs" as const, row, column })),
        ...chatRpcs.map((column) => ({ table: "chat" as const, row, column })),
        ...Object.values(authColumns).map((column) => ({ table: "auth" as const, row, column })),
      ];
      for (const at of cells) {
        notApplicable(at, "buf curl needs HTTP/2 for reflection and then runs the call on h2c", async () => {
          const r = await call("GetUser", [{ id: unknownId }]);
          assertHttp(r, "2");
        });
      }
      continue;
    }

    orderCells(cell, row, tag, () => {
      // The change made while a stream is open comes from a second buf curl command.
      const client = bufCurlClient(server.url, protocol, schema);
      return { server, clients: { client, other: client } };
    });

    // ChatService: SendMessage and Subscribe on every row. Chat over h2c, with the requests
    // fed from stdin (a join, two posts) and stdin closed at once: the server must still answer
    // both posts before it ends the stream.
    const chatClients = () => {
      const client = bufCurlClient(server.url, protocol, schema);
      return { server, clients: { client, other: client } };
    };
    chatCells(cell, row, tag, chatClients, http === "1.1" ? ["SendMessage", "Subscribe"] : chatRpcs);

    // AuthService and access: the same buf curl command with another -H, or none.
    authCells(cell, row, tag, () => ({
      client: bufCurlClient(server.url, protocol, schema),
      as: (token) => bufCurlClient(server.url, protocol, schema, token),
    }));
    if (http === "1.1") {
      notApplicable(
        { table: "chat", row, column: "Chat" },
        "HTTP/1.1 is half duplex; buf curl switches bidi calls to h2c",
        async () => {
          const r = await bufCurl({
            baseUrl: server.url,
            procedure: "switchboard.v1.ChatService/Chat",
            protocol,
            schema,
            messages: [{ room: `h1-${tag}`, user_id: unknownId, content: "" }],
          });
          succeeded(r);
          assertHttp(r, "2");
        },
      );
    }

    cell(ref("unary"), async () => {
      const email = `ada@${tag}.example`;
      const created = await call("CreateUser", [{ name: "Ada", email, age: 36 }]);
      succeeded(created);
      assertHttp(created, http);
      const user = created.messages[0]?.user as Json | undefined;
      assert.equal(created.messages.length, 1);
      assert.equal(user?.email, email);
      assert.equal(user?.version, "1");
      assert.match(String(user?.id), /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-/);

      const got = await call("GetUser", [{ id: user?.id }]);
      succeeded(got);
      assertHttp(got, http);
      assert.deepEqual(got.messages, [{ user }]);

      const missing = await call("GetUser", [{ id: unknownId }]);
      assert.equal(missing.error?.code, "not_found");
      assert.equal(missing.exitCode, 5 << 3, "buf curl exits with the code shifted left by three");

      // UpdateUser with a field mask (a string in JSON), then DeleteUser: the user is gone.
      const updated = await call("UpdateUser", [
        { user: { id: user?.id, name: "Ada L." }, updateMask: "name" },
      ]);
      succeeded(updated);
      assertHttp(updated, http);
      assert.partialDeepStrictEqual(updated.messages, [
        { user: { id: user?.id, name: "Ada L.", email, version: "2" } },
      ]);
      const deleted = await call("DeleteUser", [{ id: user?.id }]);
      succeeded(deleted);
      assertHttp(deleted, http);
      assert.deepEqual(deleted.messages, [{}]);
      assert.equal((await call("GetUser", [{ id: user?.id }])).error?.code, "not_found");
    });

    cell(ref("server stream"), async () => {
      await seedUsers(server, `list-${tag}`, 5);
      const r = await call("ListUsers", [{ query: `list-${tag}-`, pageSize: 2 }]);
      succeeded(r);
      assertHttp(r, http);
      const emails = r.messages.map((m) => (m.user as Json).email).sort();
      assert.deepEqual(emails, [1, 2, 3, 4, 5].map((n) => `list-${tag}-${n}@seed.example`).sort());
    });

    cell(ref("client stream"), async () => {
      const r = await call("BatchCreateUsers", [
        { name: "B0", email: `b0@${tag}.example`, age: 20 },
        { name: "B1", email: "not an email", age: 21 },
        { name: "B2", email: `b2@${tag}.example`, age: 22 },
      ]);
      succeeded(r);
      assertHttp(r, http);
      assert.equal(r.messages.length, 1);
      const [report] = r.messages as [Json];
      assert.equal(report.successCount, 2);
      assert.deepEqual(
        (report.users as Json[]).map((u) => u.email),
        [`b0@${tag}.example`, `b2@${tag}.example`],
      );
      const failures = report.failures as Json[];
      assert.equal(failures.length, 1);
      assert.equal(failures[0]?.index, 1);
      assert.equal(failures[0]?.code, 3, "INVALID_ARGUMENT");
    });

    const bidi = async () => {
      const r = await call("UserStream", [
        { requestId: "c", create: { name: "Cy", email: `cy@${tag}.example`, age: 40 } },
        { requestId: "m", get: { id: unknownId } },
        { requestId: "x", get: { id: "not-a-uuid" } },
      ]);
      succeeded(r);
      return r;
    };
    if (http === "1.1") {
      notApplicable(ref("bidi"), "HTTP/1.1 is half duplex; buf curl switches bidi calls to h2c", async () => {
        assertHttp(await bidi(), "2");
      });
    } else {
      cell(ref("bidi"), async () => {
        const r = await bidi();
        assertHttp(r, http);
        assert.equal(r.messages.length, 3);
        // Failures are answered in band (NOT_FOUND, INVALID_ARGUMENT) and the stream goes on.
        assert.partialDeepStrictEqual(r.messages, [
          { requestId: "c", user: { email: `cy@${tag}.example` } },
          { requestId: "m", error: { code: 5 } },
          { requestId: "x", error: { code: 3 } },
        ]);
      });
    }
  }
}

rpcCells("binpb");

// Reflection last: it is the newest part of the server.
for (const reflectProtocol of ["grpc-v1", "grpc-v1alpha"]) {
  cell(
    { table: "features", row: `reflection ${reflectProtocol}`, column: "buf curl (gRPC, h2c)" },
    async () => {
      // No token: reflection answers anyone.
      const r = await bufCurl({
        baseUrl: server.url,
        protocol: "gRPC · h2c",
        schema: "reflection",
        token: null,
        args: ["--list-methods", "--reflect-protocol", reflectProtocol],
      });
      succeeded(r);
      assertAuthorization(r, false);
      const methods = r.stdout.split("\n").filter(Boolean);
      const expected = [
        ...["CreateUser", "GetUser", "ListUsers", "BatchCreateUsers", "UserStream"].map(
          (m) => `${service}/${m}`,
        ),
        ...Object.values(procedures),
        ...Object.values(chatProcedures),
        ...Object.values(authProcedures),
      ];
      for (const m of expected) assert.ok(methods.includes(m), `${m} missing from ${methods.join(", ")}`);
    },
  );
}

cell({ table: "features", row: "live stream ends at deadline", column: "buf curl (gRPC, h2c)" }, async () => {
  // buf's --timeout becomes the call's deadline: buf curl sends it as grpc-timeout, and a
  // StreamOrders that would follow live events forever ends with DEADLINE_EXCEEDED.
  const client = bufCurlClient(server.url, "gRPC · h2c", "binpb");
  const { user } = (await client.unary(`${service}/CreateUser`, {
    name: "Timed",
    email: "timed@buf-curl.example",
    age: 30,
  })) as { user: { id: string } };
  const { order } = (await client.unary(procedures.CreateOrder, {
    user_id: user.id,
    product_id: "sku-1",
    quantity: 1,
    idempotency_key: "timed",
  })) as { order: { id: string } };
  const subscriptions = liveSubscriptions(server);
  const started = Date.now();
  const r = await bufCurl({
    baseUrl: server.url,
    procedure: procedures.StreamOrders,
    protocol: "gRPC · h2c",
    schema: "binpb",
    messages: [{ user_id: user.id }],
    args: ["--timeout", "1s"],
  });
  const elapsed = Date.now() - started;
  assert.match(r.stderr, /^buf: > \(#1\) Grpc-Timeout: \d+[mu]$/m, "the deadline goes to the server");
  assert.deepEqual(
    r.messages.map((m) => (m.event as { order: { id: string } }).order.id),
    [order.id],
  );
  assert.equal(r.error?.code, "deadline_exceeded", r.stderr);
  assert.equal(r.exitCode, 4 << 3);
  assert.ok(elapsed >= 1000 && elapsed < 3000, `ended after ${elapsed} ms`);
  await assertSubscriptionsBackTo(server, subscriptions);
});
cell(
  { table: "features", row: "message over MAX_MESSAGE_BYTES", column: "buf curl (gRPC, h2c)" },
  async () => {
    // 5 MiB against the default 4 MiB, refused from its length prefix.
    const r = await bufCurl({
      baseUrl: server.url,
      procedure: `${service}/CreateUser`,
      protocol: "gRPC · h2c",
      schema: "binpb",
      messages: [{ name: "n".repeat(5 << 20), email: "big@buf-curl.example", age: 30 }],
    });
    assert.equal(r.error?.code, "resource_exhausted", r.stderr.slice(-2000));
    assert.match(r.error?.message ?? "", /readMaxBytes/);
  },
);

rpcCells("reflection");
