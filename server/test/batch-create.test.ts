// BatchCreateUsers commits batch by batch as items arrive; a stream that breaks keeps the
// batches committed before the break and drops the partial one (README: "Broken imports").
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { UserService } from "../../gen/switchboard/v1/user_pb.js";
import { batchSize } from "../src/services/user-service.ts";
import { clientFor, collect, streamOf } from "./support/clients.ts";
import { startTestServer, type TestServer } from "./support/test-server.ts";

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server?.close();
});

async function countUsers(prefix: string): Promise<number> {
  const client = clientFor(UserService, server.url, "grpc");
  return (await collect(client.listUsers({ query: prefix, pageSize: 1000 }))).length;
}

test("a broken stream keeps the full batches sent before it broke", { timeout: 120_000 }, async () => {
  const prefix = "broken-import-";
  const client = clientFor(UserService, server.url, "grpc");
  const abort = new AbortController();
  const sent = 2 * batchSize + 200;
  const requests = (async function* () {
    for (let i = 0; i < sent; i++) yield { name: `n${i}`, email: `${prefix}${i}@example.com`, age: 20 };
    // Wait until both full batches are in the table, then break the stream mid-batch.
    while ((await countUsers(prefix)) < 2 * batchSize) await new Promise((r) => setTimeout(r, 20));
    abort.abort();
    await new Promise(() => {});
  })();
  await assert.rejects(client.batchCreateUsers(requests, { signal: abort.signal }));
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(await countUsers(prefix), 2 * batchSize, "the partial batch of 200 was not committed");
});

test("re-sending an import reports what already exists and adds the rest", async () => {
  const client = clientFor(UserService, server.url, "connect-binary-h2c");
  const items = Array.from({ length: 10 }, (_, i) => ({
    name: `r${i}`,
    email: `resend-${i}@example.com`,
    age: 20,
  }));
  const first = await client.batchCreateUsers(streamOf(items.slice(0, 6)));
  assert.equal(first.successCount, 6);
  const again = await client.batchCreateUsers(streamOf(items));
  assert.equal(again.successCount, 4);
  assert.deepEqual(
    again.failures.map((f) => f.index),
    [0, 1, 2, 3, 4, 5],
  );
});
