// ChatService against the real server: one room for every protocol, bidi done right, and
// nothing held for streams their clients abandoned.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, test } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { type ChatMessage, ChatService } from "../../gen/switchboard/v1/chat_pb.js";
import { clientFor, collect, streamOf } from "./support/clients.ts";
import { startTestServer, type TestServer } from "./support/test-server.ts";
import { newUserId } from "./support/users.ts";
import { eventually } from "./support/wait.ts";

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server?.close();
});

const newUser = (name: string) => newUserId(server.url, name);

/** A controllable request stream for a bidi call. */
function requestChannel<T>() {
  const queue: T[] = [];
  let wake: (() => void) | undefined;
  let ended = false;
  return {
    send(item: T) {
      queue.push(item);
      wake?.();
    },
    end() {
      ended = true;
      wake?.();
    },
    async *stream(): AsyncGenerator<T> {
      for (;;) {
        const item = queue.shift();
        if (item !== undefined) {
          yield item;
          continue;
        }
        if (ended) return;
        await new Promise<void>((r) => {
          wake = r;
        });
        wake = undefined;
      }
    },
  };
}

test("one room whatever the client: bidi, Subscribe and SendMessage over every protocol see one order", {
  timeout: 60_000,
}, async () => {
  const room = `room-${randomUUID().slice(0, 8)}`;
  const ada = await newUser("ada");
  const bob = await newUser("bob");
  const chat = clientFor(ChatService, server.url, "grpc");

  // Ada chats over a gRPC bidi stream; Bob only listens through Subscribe over gRPC-Web.
  const base = server.ctx.bus.subscriptionCount();
  const requests = requestChannel<{ room: string; userId: string; content: string }>();
  const adaSeen: ChatMessage[] = [];
  const adaDone = (async () => {
    for await (const res of chat.chat(requests.stream())) if (res.message) adaSeen.push(res.message);
  })();
  requests.send({ room, userId: ada, content: "" }); // join without posting
  const abort = new AbortController();
  const bobSeen: ChatMessage[] = [];
  const bobDone = (async () => {
    for await (const res of clientFor(ChatService, server.url, "grpc-web").subscribe(
      { room },
      { signal: abort.signal },
    )) {
      if (res.message) bobSeen.push(res.message);
    }
  })().catch((err: unknown) => {
    if (ConnectError.from(err).code !== Code.Canceled) throw err;
  });
  await eventually("both are subscribed", () => server.ctx.bus.subscriptionCount() === base + 2);

  requests.send({ room, userId: ada, content: "hello from grpc bidi" });
  // The bidi post is asynchronous to the unary ones below: let it land first, for a known order.
  await eventually("the bidi message is in", () => adaSeen.length === 1);
  await clientFor(ChatService, server.url, "connect-json").sendMessage({
    room,
    userId: bob,
    content: "hi from connect json",
  });
  await clientFor(ChatService, server.url, "grpc-web").sendMessage({
    room,
    userId: bob,
    content: "and grpc-web",
  });
  await clientFor(ChatService, server.url, "connect-binary-h2c").sendMessage({
    room,
    userId: ada,
    content: "and connect h2",
  });
  await eventually("everyone has every message", () => adaSeen.length === 4 && bobSeen.length === 4);

  requests.end(); // half-close: the server finishes the stream cleanly
  await adaDone;
  abort.abort();
  await bobDone;
  const contents = (ms: ChatMessage[]) => ms.map((m) => `${m.sequence}:${m.content}`);
  assert.deepEqual(contents(adaSeen), contents(bobSeen));
  assert.deepEqual(
    adaSeen.map((m) => m.content),
    ["hello from grpc bidi", "hi from connect json", "and grpc-web", "and connect h2"],
  );
  // Each message names its sender as they were called when it was posted.
  assert.deepEqual(
    adaSeen.map((m) => m.userName),
    ["ada", "bob", "bob", "ada"],
  );
  assert.deepEqual(
    adaSeen.map((m) => m.sequence),
    [1n, 2n, 3n, 4n],
  );

  // History: a late Subscribe replays the room, and after_sequence resumes exactly.
  const late: ChatMessage[] = [];
  const lateAbort = new AbortController();
  await (async () => {
    for await (const res of chat.subscribe({ room, afterSequence: 2n }, { signal: lateAbort.signal })) {
      if (res.message) late.push(res.message);
      if (late.length === 2) lateAbort.abort();
    }
  })().catch(() => {});
  assert.deepEqual(
    late.map((m) => m.content),
    ["and grpc-web", "and connect h2"],
  );
});

test("bad input gets its code and ends only the sender's own stream", { timeout: 30_000 }, async () => {
  const room = `bad-${randomUUID().slice(0, 8)}`;
  const ada = await newUser("ada");
  const send = clientFor(ChatService, server.url, "connect-json");
  const code = async (p: Promise<unknown>) => {
    try {
      await p;
      return "OK";
    } catch (err) {
      return Code[ConnectError.from(err).code];
    }
  };
  assert.equal(await code(send.sendMessage({ room, userId: ada, content: "" })), "InvalidArgument");
  assert.equal(
    await code(send.sendMessage({ room, userId: ada, content: "x".repeat(4001) })),
    "InvalidArgument",
  );
  assert.equal(
    await code(send.sendMessage({ room: "Not A Room!", userId: ada, content: "x" })),
    "InvalidArgument",
  );
  assert.equal(await code(send.sendMessage({ room, userId: randomUUID(), content: "x" })), "NotFound");

  // A listener in the room keeps its stream while a bidi sender's bad message ends the sender's.
  const listener = new AbortController();
  const heard: string[] = [];
  const listening = (async () => {
    for await (const res of clientFor(ChatService, server.url, "grpc").subscribe(
      { room },
      { signal: listener.signal },
    )) {
      heard.push(res.message?.content ?? "");
    }
  })().catch(() => {});
  const bad = clientFor(ChatService, server.url, "grpc").chat(
    (async function* () {
      yield { room, userId: ada, content: "fine" };
      yield { room, userId: randomUUID(), content: "from nobody" };
      await new Promise(() => {});
    })(),
  );
  assert.equal(
    await code(
      (async () => {
        for await (const _ of bad);
      })(),
    ),
    "NotFound",
  );
  await send.sendMessage({ room, userId: ada, content: "still here" });
  await eventually("the listener heard both", () => heard.length === 2);
  listener.abort();
  await listening;
  assert.deepEqual(heard, ["fine", "still here"]);
});

test("1,000 abandoned chat streams leave no subscription behind", { timeout: 120_000 }, async () => {
  const room = `crowd-${randomUUID().slice(0, 8)}`;
  const ada = await newUser("ada");
  // 50 streams per connection, under the server's cap of concurrent streams per connection.
  const connections = Array.from({ length: 20 }, () => clientFor(ChatService, server.url, "grpc"));
  const base = server.ctx.bus.subscriptionCount();
  const aborts: AbortController[] = [];
  const ends: Promise<unknown>[] = [];
  for (let i = 0; i < 1000; i++) {
    const abort = new AbortController();
    aborts.push(abort);
    const chat = connections[i % connections.length] ?? connections[0];
    if (!chat) throw new Error("no connection");
    const s =
      i % 2 === 0
        ? chat.chat(
            (async function* () {
              yield { room, userId: ada, content: "" };
              await new Promise(() => {});
            })(),
            { signal: abort.signal },
          )
        : chat.subscribe({ room }, { signal: abort.signal });
    ends.push(
      (async () => {
        for await (const _ of s);
      })().catch(() => {}),
    );
  }
  await eventually(
    "all 1,000 are subscribed",
    () => server.ctx.bus.subscriptionCount() === base + 1000,
    60_000,
  );
  for (const abort of aborts) abort.abort();
  await Promise.all(ends);
  await eventually(
    "every subscription is released",
    () => server.ctx.bus.subscriptionCount() === base,
    30_000,
  );
  await eventually("no call is left open", () => server.ctx.openCalls.count() === 0, 30_000);
});

test("a client that half-closes right after posting still receives its own posts", {
  timeout: 60_000,
}, async () => {
  const ada = await newUser("ada");
  const chat = clientFor(ChatService, server.url, "grpc");
  for (let i = 0; i < 5; i++) {
    const room = `halfclose-${randomUUID().slice(0, 8)}`;
    const got = await collect(
      chat.chat(
        streamOf([
          { room, userId: ada, content: "" },
          { room, userId: ada, content: "first" },
          { room, userId: ada, content: "second" },
        ]),
      ),
    );
    assert.deepEqual(
      got.map((r) => r.message?.content),
      ["first", "second"],
    );
  }
});
