// Python grpcio (the C-core gRPC stack) against the running server. The client is
// python/interop_client.py: it runs every case once and prints the outcomes as JSON; each cell
// here asserts on its case. The OrderService and NotificationService cases
// (python/order_cases.py), the ChatService ones (python/chat_cases.py) and AuthService with the
// access cases (python/auth_cases.py) are judged by the assertions every client shares
// (order-cases.ts, chat-cases.ts, auth-cases.ts). The script calls with the admin token (given
// as SWITCHBOARD_TOKEN) as `authorization` metadata, except where a case calls as a signed-in
// user or as no one.
import assert from "node:assert/strict";
import { after, before } from "node:test";
import { testAdminToken } from "../support/auth.ts";
import { startTestServer, type TestServer } from "../support/test-server.ts";
import { authCases, authColumns, checkAuthOutcome } from "./auth-cases.ts";
import { chatRpcs, checkChatOutcome, liveChatRpcs } from "./chat-cases.ts";
import { type CellRef, matrixFor } from "./matrix.ts";
import {
  assertSubscriptionsBackTo,
  checkOutcome,
  liveRpcs,
  type Order,
  type OrderEvent,
  orderRpcs,
} from "./order-cases.ts";
import { descriptorSet } from "./paths.ts";
import { runPython } from "./python.ts";
import { camelKeys, type Json } from "./rpc-client.ts";

type Outcome = { ok: boolean; code?: string; details?: string } & Json;

let server: TestServer;
let outcomes: Record<string, Outcome>;
/** Live streams the server held before the script ran: all it may hold once the script is done. */
let subscriptionsBefore: number;
before(async () => {
  server = await startTestServer();
  subscriptionsBefore = server.ctx.bus.subscriptionCount();
  outcomes = (await runPython("interop_client.py", [new URL(server.url).host, descriptorSet, "py"], {
    SWITCHBOARD_TOKEN: testAdminToken,
  })) as Record<string, Outcome>;
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
  assert.partialDeepStrictEqual(o.updated, {
    id: created.id,
    name: "Guido v. R.",
    email: created.email,
    version: "2",
  });
  assert.deepEqual(o.deleted, {});
  assert.equal(o.gone, "NOT_FOUND");
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

for (const rpc of orderRpcs) {
  cell({ table: "rpcs", row, column: rpc }, async () => {
    const o = outcomes[rpc];
    assert.ok(o?.ok, `${rpc}: ${o?.code} ${o?.details}`);
    checkOutcome(rpc, o);
    // The script has cancelled its live streams: the server must have ended them all.
    if (liveRpcs.includes(rpc)) await assertSubscriptionsBackTo(server, subscriptionsBefore);
  });
}

for (const rpc of chatRpcs) {
  cell({ table: "chat", row, column: rpc }, async () => {
    const o = outcomes[rpc];
    assert.ok(o?.ok, `${rpc}: ${o?.code} ${o?.details}`);
    checkChatOutcome(rpc, o);
    if (liveChatRpcs.includes(rpc)) await assertSubscriptionsBackTo(server, subscriptionsBefore);
  });
}

for (const name of authCases) {
  cell({ table: "auth", row, column: authColumns[name] }, async () => {
    const o = outcomes[name];
    assert.ok(o?.ok, `${name}: ${o?.code} ${o?.details}`);
    checkAuthOutcome(name, o);
  });
}

caseCell({ table: "features", row: "cancel live stream", column: label }, "live_cancel", (o) => {
  const { orderId, first, code, later, resumed } = camelKeys<{
    orderId: string;
    first: OrderEvent;
    code: string;
    later: Order;
    resumed: OrderEvent[];
  }>(o);
  assert.equal(first.order.id, orderId);
  assert.equal(code, "canceled");
  // The order placed while nobody listened comes first when the client resumes.
  assert.deepEqual(
    resumed.map((e) => e.order.id),
    [later.id],
  );
  assert.ok(Number(resumed[0]?.sequence) > Number(first.sequence));
});

caseCell({ table: "features", row: "live stream ends at deadline", column: label }, "live_deadline", (o) => {
  assert.equal(o.code, "deadline_exceeded");
  assert.deepEqual(o.seen, [o.order_id], "the replay came before the deadline");
  assert.ok(Number(o.elapsed_ms) < 2000, `ended after ${o.elapsed_ms} ms`);
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

caseCell({ table: "features", row: "message over MAX_MESSAGE_BYTES", column: label }, "oversize", (o) => {
  assert.equal(o.code, "RESOURCE_EXHAUSTED", String(o.details));
  assert.match(String(o.details), /readMaxBytes/);
});

cell({ table: "features", row: "unknown method", column: label }, async () => {
  const o = outcomes.unknown_method;
  assert.equal(o?.code, "UNIMPLEMENTED", `${o?.code}: ${o?.details}`);
});

caseCell({ table: "features", row: "health", column: label }, "health", (o) => {
  assert.deepEqual(o.status, {
    "(server)": "SERVING",
    "switchboard.v1.UserService": "SERVING",
    "switchboard.v1.OrderService": "SERVING",
    "switchboard.v1.NotificationService": "SERVING",
  });
});
