// buf curl against the running server: every RPC kind over Connect (HTTP/1.1 and h2c), gRPC
// (h2c) and gRPC-Web (HTTP/1.1), with the schema from gen/switchboard.binpb and then from the
// server's own reflection service. Each cell also checks, from buf curl's verbose log, that the
// call really went over the HTTP version its row names.
import assert from "node:assert/strict";
import { after, before } from "node:test";
import { startTestServer, type TestServer } from "../support/test-server.ts";
import { type BufCurlResult, type BufProtocol, bufCurl, bufProtocols } from "./buf-curl.ts";
import { matrixFor } from "./matrix.ts";
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

function usedHttp(r: BufCurlResult, version: string): void {
  assert.ok(r.httpVersions.length > 0, `no HTTP exchange in buf curl's log:\n${r.stderr}`);
  assert.deepEqual(
    [...new Set(r.httpVersions)],
    [version],
    `expected every exchange over HTTP/${version}, got ${r.httpVersions.join(", ")}`,
  );
}

function rpcCells(schema: "binpb" | "reflection"): void {
  for (const protocol of Object.keys(bufProtocols) as BufProtocol[]) {
    const { http } = bufProtocols[protocol];
    const row = `buf curl · ${protocol} · ${schema === "binpb" ? "--schema" : "reflection"}`;
    const tag = `${schema}-${protocol.replace(/[^A-Za-z0-9]+/g, "-")}`.toLowerCase();
    const call = (method: string, messages: unknown[]) =>
      bufCurl({ baseUrl: server.url, procedure: `${service}/${method}`, protocol, schema, messages });
    const ref = (column: string) => ({ table: "clients" as const, row, column });

    if (schema === "reflection" && http === "1.1") {
      // buf curl's reflection client is a bidi stream, so buf curl switches the whole command to h2c.
      for (const column of ["unary", "server stream", "client stream", "bidi"]) {
        notApplicable(
          ref(column),
          "buf curl needs HTTP/2 for reflection and then runs the call on h2c",
          async () => {
            const r = await call("GetUser", [{ id: unknownId }]);
            usedHttp(r, "2");
          },
        );
      }
      continue;
    }

    cell(ref("unary"), async () => {
      const email = `ada@${tag}.example`;
      const created = await call("CreateUser", [{ name: "Ada", email, age: 36 }]);
      succeeded(created);
      usedHttp(created, http);
      const user = created.messages[0]?.user as Json | undefined;
      assert.equal(created.messages.length, 1);
      assert.equal(user?.email, email);
      assert.equal(user?.version, "1");
      assert.match(String(user?.id), /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-/);

      const got = await call("GetUser", [{ id: user?.id }]);
      succeeded(got);
      usedHttp(got, http);
      assert.deepEqual(got.messages, [{ user }]);

      const missing = await call("GetUser", [{ id: unknownId }]);
      assert.equal(missing.error?.code, "not_found");
      assert.equal(missing.exitCode, 5 << 3, "buf curl exits with the code shifted left by three");
    });

    cell(ref("server stream"), async () => {
      await seedUsers(server, `list-${tag}`, 5);
      const r = await call("ListUsers", [{ query: `list-${tag}-`, pageSize: 2 }]);
      succeeded(r);
      usedHttp(r, http);
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
      usedHttp(r, http);
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
        usedHttp(await bidi(), "2");
      });
    } else {
      cell(ref("bidi"), async () => {
        const r = await bidi();
        usedHttp(r, http);
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
      const r = await bufCurl({
        baseUrl: server.url,
        protocol: "gRPC · h2c",
        schema: "reflection",
        args: ["--list-methods", "--reflect-protocol", reflectProtocol],
      });
      succeeded(r);
      const methods = r.stdout.split("\n").filter(Boolean);
      for (const m of ["CreateUser", "GetUser", "ListUsers", "BatchCreateUsers", "UserStream"]) {
        assert.ok(methods.includes(`${service}/${m}`), `${m} missing from ${methods.join(", ")}`);
      }
    },
  );
}
rpcCells("reflection");
