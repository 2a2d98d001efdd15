// Python grpcio (the C-core gRPC stack) against the running server. The client is
// python/interop_client.py: it runs every case once and prints the outcomes as JSON; each cell
// here asserts on its case.
import assert from "node:assert/strict";
import { after, before } from "node:test";
import { startTestServer, type TestServer } from "../support/test-server.ts";
import { unknownProcedureNotTrailersOnly } from "./known-bugs.ts";
import { type CellRef, matrixFor } from "./matrix.ts";
import { descriptorSet } from "./paths.ts";
import { runPython } from "./python.ts";

type Json = Record<string, unknown>;
type Outcome = { ok: boolean; code?: string; details?: string } & Json;

let server: TestServer;
let outcomes: Record<string, Outcome>;
before(async () => {
  server = await startTestServer();
  outcomes = (await runPython("interop_client.py", [
    new URL(server.url).host,
    descriptorSet,
    "py",
  ])) as Record<string, Outcome>;
});
after(async () => {
  await server?.close();
});

const { cell } = matrixFor("python-grpcio");
const row = "Python grpcio · gRPC · h2c";
const label = "Python grpcio (gRPC, h2c)";

/** A cell on one case of the script's output, which must have succeeded. */
function caseCell(ref: CellRef, name: string, check: (o: Outcome) => void): void {
  cell(ref, async () => {
    const o = outcomes[name];
    assert.ok(o, `no outcome for ${name}`);
    assert.ok(o.ok, `${name}: ${o.code} ${o.details}`);
    check(o);
  });
}

caseCell({ table: "clients", row, column: "unary" }, "unary", (o) => {
  const created = o.created as Json;
  assert.equal(created.email, "guido@py.example");
  assert.equal(created.version, "1");
  assert.deepEqual(o.got, created);
  assert.equal(o.missing, "NOT_FOUND");
});

caseCell({ table: "clients", row, column: "server stream" }, "server_stream", (o) => {
  assert.deepEqual(o.emails, ["list-0@py-list.example", "list-1@py-list.example", "list-2@py-list.example"]);
});

caseCell({ table: "clients", row, column: "client stream" }, "client_stream", (o) => {
  const report = o.report as { users: Json[]; success_count: number; failures: Json[] };
  assert.equal(report.success_count, 2);
  assert.deepEqual(
    report.users.map((u) => u.email),
    ["p0@py.example", "p2@py.example"],
  );
  assert.deepEqual(
    report.failures.map((f) => [f.index, f.code]),
    [[1, 3]],
  );
});

caseCell({ table: "clients", row, column: "bidi" }, "bidi", (o) => {
  assert.equal((o.answers as Json[]).length, 3);
  // NOT_FOUND and ALREADY_EXISTS come back in band; the stream goes on.
  assert.partialDeepStrictEqual(o.answers, [
    { request_id: "a", user: { email: "bidi@py.example" } },
    { request_id: "b", error: { code: 5 } },
    { request_id: "c", error: { code: 6 } },
  ]);
});

caseCell({ table: "features", row: "error details", column: label }, "error_details", (o) => {
  assert.equal(o.code, "INVALID_ARGUMENT");
  assert.deepEqual(o.status, { code: 3, message: o.details_text });
  assert.equal((o.status_details as Json[]).length, 1);
  assert.partialDeepStrictEqual(o.status_details, [
    {
      type: "buf.validate.Violations",
      value: { violations: [{ rule_id: "string.email", field: { elements: [{ field_name: "email" }] } }] },
    },
  ]);
});

cell(
  { table: "features", row: "unknown method", column: label },
  async () => {
    const o = outcomes.unknown_method;
    assert.equal(o?.code, "UNIMPLEMENTED", `${o?.code}: ${o?.details}`);
  },
  { knownBug: unknownProcedureNotTrailersOnly },
);

caseCell({ table: "features", row: "health", column: label }, "health", (o) => {
  assert.deepEqual(o.status, { "(server)": "SERVING", "switchboard.v1.UserService": "SERVING" });
});
