// Item C of the operations issue: PostgreSQL frozen (every process of the cluster SIGSTOPped
// for 10 s). postgres-js has no query timeout of its own, so the server must answer each call
// at its deadline, /readyz must turn 503 (the health probe times out), and once PostgreSQL
// is thawed the service must recover by itself.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { UserService } from "../../../gen/switchboard/v1/user_pb.js";
import { bearer, testAdminToken } from "../support/auth.ts";
import { type Outcome, runLoad, sleep, tally } from "./support/load.ts";
import { clusterUnavailable, startTestCluster, type TestCluster } from "./support/pg-cluster.ts";
import { type ServerProcess, startServerProcess } from "./support/processes.ts";

const skip = clusterUnavailable();
const deadlineMs = 1000;
const slackMs = 400;
const freezeMs = 10_000;

let cluster: TestCluster;
let server: ServerProcess;
before(async () => {
  if (skip) return;
  cluster = await startTestCluster();
  server = await startServerProcess({
    DATABASE_URL: cluster.url,
    DATABASE_POOL_SIZE: "4",
    REDIS_URL: "",
    HEALTH_CHECK_INTERVAL_MS: "250",
    DRAIN_TIMEOUT_MS: "1000",
  });
});
after(async () => {
  await server?.kill();
  cluster?.destroy(); // thaws first, should the test fail mid-freeze
});

async function readyz(): Promise<number> {
  try {
    return (await fetch(`${server.url}/readyz`, { signal: AbortSignal.timeout(2000) })).status;
  } catch {
    return 0;
  }
}

/** Polls /readyz every 50 ms until it answers `status`; returns how long that took. */
async function waitReady(status: number, withinMs: number): Promise<number> {
  const started = Date.now();
  while ((await readyz()) !== status) {
    if (Date.now() - started > withinMs) assert.fail(`/readyz did not turn ${status} within ${withinMs} ms`);
    await sleep(50);
  }
  return Date.now() - started;
}

test("PostgreSQL frozen for 10 s: calls end at their deadline, /readyz 503, recovery on SIGCONT", {
  skip,
  timeout: 60_000,
}, async () => {
  const client = createClient(
    UserService,
    createGrpcTransport({ baseUrl: server.url, interceptors: [bearer(testAdminToken)] }),
  );
  const createUser = async (n: number) => {
    const res = await client.createUser(
      { name: `Frozen ${n}`, email: `frozen-${n}-${Date.now()}@example.com`, age: 30 },
      // The server gets the deadline; the client's own timer is far later, so what is
      // measured is when the server answers.
      { headers: { "grpc-timeout": `${deadlineMs}m` }, signal: AbortSignal.timeout(15_000) },
    );
    return res.user?.id ?? "";
  };
  assert.equal(await readyz(), 200);
  await createUser(-1);

  const frozenAt = Date.now();
  const pids = cluster.signalAll("SIGSTOP");
  assert.ok(pids.length > 1, "the postmaster and its backends");
  let thawed = false;
  try {
    const load = runLoad(4, createUser, 20);
    const toUnready = await waitReady(503, 3000);
    await sleep(freezeMs - (Date.now() - frozenAt));
    const during = await load.stop();
    cluster.signalAll("SIGCONT");
    thawed = true;
    const thawedAt = Date.now();

    // Recovery: the first call that succeeds, and /readyz back to 200.
    let firstOkMs = Number.NaN;
    while (Number.isNaN(firstOkMs)) {
      if (Date.now() - thawedAt > 10_000) assert.fail("no call succeeded within 10 s of SIGCONT");
      try {
        await createUser(-2);
        firstOkMs = Date.now() - thawedAt;
      } catch {
        await sleep(50);
      }
    }
    const toReady = await waitReady(200, 10_000);
    const afterwards = runLoad(4, createUser);
    await sleep(1000);
    const recovered = await afterwards.stop();

    const describe = (o: Outcome) => `${o.code} after ${o.ms} ms: ${o.message ?? ""}`;
    console.log(
      JSON.stringify({
        frozenMs: thawedAt - frozenAt,
        during: tally(during),
        answerMs: { min: Math.min(...during.map((o) => o.ms)), max: Math.max(...during.map((o) => o.ms)) },
        readyz503AfterMs: toUnready,
        firstOkAfterThawMs: firstOkMs,
        readyz200AfterThawMs: toReady,
        recovered: tally(recovered),
      }),
    );
    assert.equal(server.exited(), undefined, `the server process died:\n${server.logTail()}`);
    assert.ok(during.length >= 8, `${during.length} calls during the freeze`);
    // Every call while frozen ends with DEADLINE_EXCEEDED, at its deadline, not later.
    assert.deepEqual(
      during
        .filter((o) => o.code !== 4 || o.ms < deadlineMs - 50 || o.ms > deadlineMs + slackMs)
        .map(describe),
      [],
    );
    assert.deepEqual(tally(recovered), { OK: recovered.length });
  } finally {
    if (!thawed) cluster.signalAll("SIGCONT");
  }
});
