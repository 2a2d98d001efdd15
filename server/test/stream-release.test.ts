// What a stream holds is released when its client goes away, also when the client had
// stopped reading first; and a subscriber that stops reading is ended with
// RESOURCE_EXHAUSTED instead of having events buffered for it without limit.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import * as http2 from "node:http2";
import { after, before, test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import {
  NotificationService,
  SubscribeNotificationsRequestSchema,
} from "../../gen/switchboard/v1/notification_pb.js";
import { UserService } from "../../gen/switchboard/v1/user_pb.js";
import { grpcFrame, grpcRequestHeaders } from "./security/raw-h2.ts";
import { testAdminToken } from "./support/auth.ts";
import { clientFor, streamOf } from "./support/clients.ts";
import { startTestServer, type TestServer } from "./support/test-server.ts";
import { eventually } from "./support/wait.ts";

let server: TestServer;
before(async () => {
  server = await startTestServer({ STREAM_BUFFER_EVENTS: "20" });
});
after(async () => {
  await server?.close();
});

/**
 * A raw gRPC SubscribeNotifications whose response is never read: connect and grpc-js clients
 * read ahead into memory of their own, so only a raw stream shows a client that truly stops.
 */
function rawSubscribe(userId: string) {
  const session = http2.connect(server.url);
  const request = toBinary(
    SubscribeNotificationsRequestSchema,
    create(SubscribeNotificationsRequestSchema, { userId }),
  );
  const stream = session.request(
    grpcRequestHeaders("/switchboard.v1.NotificationService/SubscribeNotifications", testAdminToken),
  );
  stream.end(grpcFrame(request));
  stream.on("error", () => {}); // resets are what these tests provoke, and check
  return { session, stream };
}

// HTTP/2 only: over HTTP/1.1 the kernel's socket buffers take the whole answer at once.
for (const protocol of ["grpc", "connect-binary-h2c"] as const) {
  test(`a ${protocol} client that stops reading a big ListUsers and then leaves frees the stream`, {
    timeout: 60_000,
  }, async () => {
    const users = clientFor(UserService, server.url, "grpc");
    const prefix = `release-${protocol}-`;
    const made = await users.batchCreateUsers(
      streamOf(
        Array.from({ length: 3000 }, (_, i) => ({
          name: `${prefix}${i}`,
          email: `${prefix}${i}@example.com`,
          age: 9,
        })),
      ),
    );
    assert.equal(made.successCount, 3000);
    const abort = new AbortController();
    const stream = clientFor(UserService, server.url, protocol).listUsers(
      { query: prefix, pageSize: 100 },
      { signal: abort.signal },
    );
    const it = stream[Symbol.asyncIterator]();
    assert.ok((await it.next()).value);
    await eventually("the stream counts as open", () => server.ctx.openCalls.count() === 1);
    // Stop reading: the server fills the connection's window and parks in its write.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(server.ctx.openCalls.count(), 1, "still open while the client is connected");
    abort.abort();
    await eventually("the server has released the stream", () => server.ctx.openCalls.count() === 0);
  });
}

test("a subscriber that stops reading is reset with ENHANCE_YOUR_CALM and its subscription freed", {
  timeout: 60_000,
}, async () => {
  const { user } = await clientFor(UserService, server.url, "grpc").createUser({
    name: "Slow",
    email: `slow-${randomUUID()}@example.com`,
    age: 20,
  });
  const userId = user?.id ?? "";
  const before = server.ctx.bus.subscriptionCount();
  const { session, stream } = rawSubscribe(userId);
  const closed = new Promise<number>((resolve) => stream.on("close", () => resolve(stream.rstCode ?? -1)));
  await eventually("the subscription is open", () => server.ctx.bus.subscriptionCount() === before + 1);

  const notifications = clientFor(NotificationService, server.url, "grpc");
  const body = "x".repeat(4000);
  for (let i = 0; i < 300 && server.ctx.bus.subscriptionCount() > before; i++) {
    await notifications.sendNotification({ userId, title: `n${i}`, body });
  }
  assert.equal(
    await closed,
    http2.constants.NGHTTP2_ENHANCE_YOUR_CALM,
    "gRPC clients read this as RESOURCE_EXHAUSTED",
  );
  await eventually("the subscription is freed", () => server.ctx.bus.subscriptionCount() === before);
  await eventually("no call is left open", () => server.ctx.openCalls.count() === 0);
  session.close();
});

test("a subscriber that stops reading and then goes away frees its subscription at once", {
  timeout: 60_000,
}, async () => {
  const { user } = await clientFor(UserService, server.url, "grpc").createUser({
    name: "Gone",
    email: `gone-${randomUUID()}@example.com`,
    age: 20,
  });
  const userId = user?.id ?? "";
  const before = server.ctx.bus.subscriptionCount();
  const { session, stream } = rawSubscribe(userId);
  await eventually("the subscription is open", () => server.ctx.bus.subscriptionCount() === before + 1);
  // Enough to fill the stream's window (64 KiB) and park the server in its write, but fewer
  // than the buffer limit, so it is the client leaving that frees the subscription.
  const notifications = clientFor(NotificationService, server.url, "grpc");
  for (let i = 0; i < 25; i++)
    await notifications.sendNotification({ userId, title: `g${i}`, body: "y".repeat(4000) });
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(server.ctx.bus.subscriptionCount(), before + 1, "still subscribed while the client is there");
  stream.close(http2.constants.NGHTTP2_CANCEL);
  session.close();
  // At once: not when some timer or the next event gets round to noticing.
  await eventually("the subscription is freed", () => server.ctx.bus.subscriptionCount() === before, 1500);
});
