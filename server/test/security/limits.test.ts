// The limits, each set small through the environment and pushed past: message size (read and
// write), open streams per user and per address, HTTP/2 streams per connection, mutation
// rates per user and per address, and the reset of a stream whose client stopped reading.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import { after, before, describe, test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { sql } from "drizzle-orm";
import { RetryInfoSchema } from "../../../gen/google/rpc/error_details_pb.js";
import { AuthService } from "../../../gen/switchboard/v1/auth_pb.js";
import {
  ChatService,
  SendMessageRequestSchema,
  SubscribeRequestSchema,
} from "../../../gen/switchboard/v1/chat_pb.js";
import { OrderService } from "../../../gen/switchboard/v1/order_pb.js";
import { Role, UserService } from "../../../gen/switchboard/v1/user_pb.js";
import { createSignedInUser, type SignedInUser, testAdminToken } from "../support/auth.ts";
import { clientFor, collect, type ProtocolName, protocolNames, streamOf } from "../support/clients.ts";
import { startTestServer, type TestServer } from "../support/test-server.ts";
import { eventually } from "../support/wait.ts";
import { connectRawH2, grpcFrame, grpcRequestHeaders, setting } from "./raw-h2.ts";
import { clientAs, codeName, expectCode, fromAddress, outcome, queryRows, tally } from "./support.ts";

/** The error a call failed with, or undefined when it succeeded. */
async function failure(call: Promise<unknown>): Promise<ConnectError | undefined> {
  try {
    await call;
    return undefined;
  } catch (err) {
    return ConnectError.from(err);
  }
}

const connectAndGrpc: ProtocolName[] = ["connect-json", "grpc"];

async function roomSize(server: TestServer, room: string): Promise<number> {
  const [row] = await queryRows<{ n: unknown }>(
    server,
    sql`select count(*) as n from chat_messages where room = ${room}`,
  );
  return Number(row?.n);
}

/** Signs a user in from `address` (X-Forwarded-For), so setup spends no one else's rate budget. */
async function signedInFrom(
  server: TestServer,
  address: string,
  name: string,
  role: Role = Role.USER,
): Promise<SignedInUser> {
  const password = `pw-${randomUUID()}`;
  const { user } = await clientAs(
    UserService,
    server.url,
    "grpc",
    testAdminToken,
    fromAddress(address),
  ).createUser({
    name,
    email: `${name.toLowerCase().replace(/\W/g, "")}-${randomUUID()}@example.com`,
    age: 30,
    password,
    role,
  });
  assert.ok(user);
  const { token } = await clientAs(AuthService, server.url, "grpc", null, fromAddress(address)).signIn({
    email: user.email,
    password,
  });
  return { user, password, token };
}

describe("MAX_MESSAGE_BYTES", () => {
  let server: TestServer;
  let alice: SignedInUser;
  /** An HTTP/1.1 SendMessage request, as raw bytes (chunked: without Content-Length). */
  const h1Request = (contentType: string, body: Buffer | Uint8Array, chunked = false) =>
    Buffer.concat([
      Buffer.from(
        "POST /switchboard.v1.ChatService/SendMessage HTTP/1.1\r\nHost: x\r\n" +
          `Content-Type: ${contentType}\r\nAuthorization: Bearer ${alice.token}\r\n` +
          (chunked
            ? `Transfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n`
            : `Content-Length: ${body.length}\r\n\r\n`),
      ),
      body,
      Buffer.from(chunked ? "\r\n0\r\n\r\n" : ""),
    ]);
  const grpcSendMessage = (content: string) =>
    grpcFrame(toBinary(SendMessageRequestSchema, create(SendMessageRequestSchema, { room: "h1", content })));
  before(async () => {
    server = await startTestServer({ MAX_MESSAGE_BYTES: "1024" });
    alice = await createSignedInUser(server.url, { name: "Alice" });
  });
  after(async () => {
    await server?.close();
  });

  for (const protocol of protocolNames) {
    test(`over ${protocol}: a request over the limit is RESOURCE_EXHAUSTED before it does anything`, async () => {
      const room = `oversize-in-${protocol}`;
      const chat = clientFor(ChatService, server.url, protocol, alice.token);
      const err = await expectCode(
        chat.sendMessage({ room, content: "x".repeat(3000) }),
        Code.ResourceExhausted,
        "3,000 bytes in",
      );
      assert.match(err.rawMessage, /readMaxBytes/);
      assert.equal(await roomSize(server, room), 0, "nothing posted");
      // Under the limit is fine: the limit is the limit.
      const { message } = await chat.sendMessage({ room, content: "x".repeat(500) });
      assert.equal(message?.content.length, 500);
    });

    test(`over ${protocol}: a response over the limit is RESOURCE_EXHAUSTED`, async () => {
      // Twelve small users in, one BatchCreateUsersResponse listing all twelve out.
      const tag = `big-out-${protocol}-${randomUUID().slice(0, 8)}`;
      const err = await expectCode(
        clientFor(UserService, server.url, protocol).batchCreateUsers(
          streamOf(
            Array.from({ length: 12 }, (_, i) => ({
              name: `${tag} ${i}`,
              email: `${tag}-${i}@example.com`,
              age: 5,
            })),
          ),
        ),
        Code.ResourceExhausted,
        "a 12-user batch report",
      );
      assert.match(err.rawMessage, /writeMaxBytes/);
    });
  }

  for (const protocol of ["grpc", "connect-binary-h2c"] as const) {
    test(`over ${protocol}: an oversize message in a bidi stream ends it RESOURCE_EXHAUSTED; a stored message too big to send ends a Subscribe`, async () => {
      const room = `oversize-bidi-${protocol}`;
      const chat = clientFor(ChatService, server.url, protocol, alice.token);
      await expectCode(
        collect(
          chat.chat(
            streamOf([
              { room, content: "small" },
              { room, content: "y".repeat(3000) },
            ]),
          ),
        ),
        Code.ResourceExhausted,
        "Chat with an oversize message",
      );
      // Whether "small" is posted depends on whether both arrived in one read: connect-es
      // decodes a chunk's envelopes together and fails them together. The big one never is.
      const [posted] = await queryRows<{ n: unknown; big: unknown }>(
        server,
        sql`select count(*) as n, count(*) filter (where length(content) > 1000) as big from chat_messages where room = ${room}`,
      );
      assert.ok(Number(posted?.n) <= 1 && Number(posted?.big) === 0, JSON.stringify(posted));
      // 950 bytes of content fit in a request, but the stored message with its ids does not fit out.
      await expectCode(
        chat.sendMessage({ room, content: "z".repeat(950) }),
        Code.ResourceExhausted,
        "the answer to a 950-byte post",
      );
      await expectCode(
        collect(chat.subscribe({ room, afterSequence: 0n })),
        Code.ResourceExhausted,
        "replaying the big message",
      );
    });
  }

  test("a gRPC length prefix claiming 1 GiB is refused from the prefix, without waiting for the bytes", async () => {
    const session = http2.connect(server.url);
    try {
      const stream = session.request(
        grpcRequestHeaders("/switchboard.v1.ChatService/SendMessage", alice.token),
      );
      const prefix = Buffer.alloc(5);
      prefix.writeUInt32BE(2 ** 30, 1);
      stream.write(Buffer.concat([prefix, Buffer.alloc(10)])); // and never the rest
      stream.on("error", () => {});
      const status = await new Promise<string | undefined>((resolve) => {
        let headers: http2.IncomingHttpHeaders = {};
        stream.on("response", (h) => {
          headers = h;
          if (h["grpc-status"]) resolve(String(h["grpc-status"]));
        });
        stream.on("trailers", (t) => resolve(String(t["grpc-status"] ?? headers["grpc-status"])));
        stream.on("close", () => resolve(headers["grpc-status"] as string | undefined));
        stream.resume();
      });
      assert.equal(status, String(Code.ResourceExhausted));
    } finally {
      session.close();
    }
  });

  // A refused HTTP/2 body is read to its end, not cut short with RST_STREAM(NO_ERROR) as RFC
  // 9113 §8.1 would allow: node:http2 clients (connect-node, grpc-js) never give back the
  // session-memory budget of request bytes still queued on a stream the server resets, so
  // after about ten such refusals their connection refuses its own new streams
  // (ENHANCE_YOUR_CALM). Thirty in a row must leave the client's connection usable.
  for (const protocol of ["grpc", "connect-binary-h2c"] as const) {
    test(`over ${protocol}: thirty refused 1 MiB requests on one connection leave it usable`, async () => {
      const chat = clientFor(ChatService, server.url, protocol, alice.token);
      const content = "o".repeat(1 << 20);
      const outcomes: string[] = [];
      for (let i = 0; i < 30; i++)
        outcomes.push(await outcome(chat.sendMessage({ room: "h2-refusals", content })));
      const answers = tally(outcomes);
      assert.deepEqual(answers, { RESOURCE_EXHAUSTED: 30 });
      const { message } = await chat.sendMessage({ room: "h2-refusals", content: "fine" });
      assert.equal(message?.content, "fine");
    });
  }

  // A refused body the server stopped reading part-way is left unread on the socket: Node
  // only drains request bodies a handler never started to read. Unless the server reads or
  // closes, the connection is wedged: its next request is never answered, and the socket
  // stays open (no timeout applies mid-request).
  for (const [what, first] of [
    [
      "a gRPC-Web request of 1 MiB",
      () => h1Request("application/grpc-web+proto", grpcSendMessage("o".repeat(1 << 20))),
    ],
    [
      "a chunked Connect JSON request of 1 MiB",
      () =>
        h1Request(
          "application/json",
          Buffer.from(JSON.stringify({ room: "h1", content: "o".repeat(1 << 20) })),
          true,
        ),
    ],
  ] as const) {
    test(`HTTP/1.1: after refusing ${what}, the server answers the connection's next request or closes it`, {
      timeout: 20_000,
    }, async () => {
      const socket = net.connect(server.port, "127.0.0.1");
      socket.on("error", () => {});
      let text = "";
      let closed = false;
      socket.on("data", (chunk: Buffer) => {
        text += chunk.toString("latin1");
      });
      socket.on("close", () => {
        closed = true;
      });
      socket.write(first());
      socket.write(h1Request("application/grpc-web+proto", grpcSendMessage("small")));
      const until = Date.now() + 5000;
      const responses = () => text.match(/HTTP\/1\.1 \d+/g) ?? [];
      while (!closed && responses().length < 2 && Date.now() < until)
        await new Promise((r) => setTimeout(r, 50));
      socket.destroy();
      assert.ok(responses().length >= 1, "the oversize request is answered");
      assert.match(text, /grpc-status:\s*8|"code":"resource_exhausted"/);
      assert.ok(
        closed || responses().length === 2,
        `neither the next request was answered nor the connection closed within 5 s (${responses().join(", ")})`,
      );
    });
  }

  test("an oversize Connect body without Content-Length (chunked) is RESOURCE_EXHAUSTED", async () => {
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(`${server.url}/switchboard.v1.ChatService/SendMessage`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${alice.token}` },
      });
      req.on("response", (res) => {
        let text = "";
        res.on("data", (c: Buffer) => {
          text += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on("error", reject);
      req.write(`{"room":"chunked","content":"`);
      const chunk = "c".repeat(64 * 1024);
      let sent = 0;
      const pump = () => {
        while (sent < 64 && !req.destroyed) {
          sent++;
          if (!req.write(chunk)) return void req.once("drain", pump);
        }
        req.end(`"}`);
      };
      pump();
    });
    assert.equal(status, 429, body);
    assert.equal((JSON.parse(body) as { code: string }).code, "resource_exhausted");
    assert.equal(await roomSize(server, "chunked"), 0);
  });
});

describe("MAX_STREAMS_PER_USER, MAX_STREAMS_PER_ADDRESS and MAX_CONCURRENT_STREAMS", () => {
  let server: TestServer;
  const room = "stream-limits";
  before(async () => {
    server = await startTestServer({
      MAX_STREAMS_PER_USER: "2",
      MAX_STREAMS_PER_ADDRESS: "4",
      MAX_CONCURRENT_STREAMS: "3",
      TRUST_PROXY: "true",
    });
    // Every Subscribe from the start replays this at once: a stream that has answered is open.
    await clientAs(ChatService, server.url, "grpc", testAdminToken, fromAddress("10.9.9.9")).sendMessage({
      room,
      userId: (await signedInFrom(server, "10.9.9.9", "Poster")).user.id,
      content: "first",
    });
  });
  after(async () => {
    await server?.close();
  });

  /** A Subscribe on a connection of its own, from `address`; resolves once it is open (or refused). */
  async function subscribe(protocol: ProtocolName, token: string, address: string) {
    const abort = new AbortController();
    const it = clientAs(ChatService, server.url, protocol, token, fromAddress(address))
      .subscribe({ room, afterSequence: 0n }, { signal: abort.signal })
      [Symbol.asyncIterator]();
    try {
      await it.next();
      return { outcome: "OK", close: () => abort.abort() };
    } catch (err) {
      return { outcome: (err as ConnectError).rawMessage ?? String(err), close: () => {} };
    }
  }

  for (const protocol of connectAndGrpc) {
    test(`over ${protocol}: a user's streams beyond MAX_STREAMS_PER_USER are refused on any connection, and a slot frees when one ends`, async () => {
      const base = server.ctx.openCalls.streams();
      const user = await signedInFrom(server, `10.1.0.${protocol.length}`, `Streamer ${protocol}`);
      const a = await subscribe(protocol, user.token, "10.1.1.1");
      const b = await subscribe(protocol, user.token, "10.1.1.2");
      assert.deepEqual([a.outcome, b.outcome], ["OK", "OK"]);
      for (const address of ["10.1.1.1", "10.1.1.3"]) {
        const c = await subscribe(protocol, user.token, address);
        assert.equal(c.outcome, "too many open streams for this user (at most 2)", `from ${address}`);
      }
      // Unary calls are not streams: still answered.
      await clientAs(UserService, server.url, protocol, user.token, fromAddress("10.1.1.1")).getUser({
        id: user.user.id,
      });
      a.close();
      await eventually("the ended stream is released", () => server.ctx.openCalls.streams() === base + 1);
      const d = await subscribe(protocol, user.token, "10.1.1.4");
      assert.equal(d.outcome, "OK", "a freed slot can be used again");
      b.close();
      d.close();
      await eventually("all released", () => server.ctx.openCalls.streams() === base);
    });
  }

  test("a bidi stream counts as a stream; streams that end on their own free their slot", async () => {
    const base = server.ctx.openCalls.streams();
    const user = await signedInFrom(server, "10.2.0.1", "Bidi");
    const users = clientAs(UserService, server.url, "grpc", user.token, fromAddress("10.2.0.1"));
    // Ten short server streams one after another: each frees its slot when it ends.
    for (let i = 0; i < 10; i++) assert.equal((await collect(users.listUsers({}))).length, 1);
    const a = await subscribe("grpc", user.token, "10.2.0.2");
    const abort = new AbortController();
    const chat = clientAs(ChatService, server.url, "grpc", user.token, fromAddress("10.2.0.3")).chat(
      (async function* () {
        yield { room: "bidi-limits" };
        await new Promise((r) => abort.signal.addEventListener("abort", r));
      })(),
      { signal: abort.signal },
    );
    const chatDone = collect(chat).catch(() => {});
    await eventually("the chat stream is open", () => server.ctx.openCalls.streams() === base + 2);
    const c = await subscribe("grpc", user.token, "10.2.0.4");
    assert.equal(c.outcome, "too many open streams for this user (at most 2)");
    abort.abort();
    await chatDone;
    a.close();
    await eventually("all released", () => server.ctx.openCalls.streams() === base);
  });

  test("admins are exempt from the per-user cap, not from the per-address cap", async () => {
    const base = server.ctx.openCalls.streams();
    const adminUser = await signedInFrom(server, "10.3.0.1", "Admin Streamer", Role.ADMIN);
    const open = [];
    for (let i = 0; i < 4; i++) open.push(await subscribe("grpc", adminUser.token, `10.3.1.${i}`));
    assert.deepEqual(
      open.map((s) => s.outcome),
      ["OK", "OK", "OK", "OK"],
      "twice the per-user cap",
    );
    for (const s of open) s.close();
    await eventually("released", () => server.ctx.openCalls.streams() === base);
  });

  test("streams from one address beyond MAX_STREAMS_PER_ADDRESS are refused, whoever opens them and whatever X-Forwarded-For claims first", async () => {
    const base = server.ctx.openCalls.streams();
    const address = "10.4.0.1";
    const open = [];
    // The admin token: no per-user cap, so the address cap is what stops it.
    for (let i = 0; i < 4; i++)
      open.push(await subscribe(i % 2 ? "connect-json" : "grpc", testAdminToken, address));
    assert.deepEqual(
      open.map((s) => s.outcome),
      ["OK", "OK", "OK", "OK"],
    );
    const other = await signedInFrom(server, "10.4.9.9", "Neighbour");
    for (const [who, token, forwarded] of [
      ["the admin token", testAdminToken, address],
      ["another user at the same address", other.token, address],
      ["a client-supplied first hop", testAdminToken, `203.0.113.7, ${address}`],
    ] as const) {
      const s = await subscribe("grpc", token, forwarded);
      assert.equal(s.outcome, "too many open streams for this address (at most 4)", who);
    }
    const elsewhere = await subscribe("grpc", testAdminToken, "10.4.0.2");
    assert.equal(elsewhere.outcome, "OK", "another address is unaffected");
    elsewhere.close();
    open[0]?.close();
    await eventually("one released", () => server.ctx.openCalls.streams() === base + 3);
    const again = await subscribe("grpc", other.token, address);
    assert.equal(again.outcome, "OK", "the freed slot is usable");
    again.close();
    for (const s of open) s.close();
    await eventually("released", () => server.ctx.openCalls.streams() === base);
  });

  test("a stream from an address at its cap is refused over every protocol before the call is built", async () => {
    const base = server.ctx.openCalls.streams();
    const address = "10.5.0.1";
    /** A Chat (bidi) stream from `address` whose client keeps sending: its error, once it ends. */
    const chatFrom = (abort: AbortController) =>
      failure(
        collect(
          clientAs(ChatService, server.url, "grpc", testAdminToken, fromAddress(address)).chat(
            (async function* () {
              yield { room: "early-refusal" };
              await new Promise((r) => abort.signal.addEventListener("abort", r));
            })(),
            { signal: abort.signal },
          ),
        ),
      );
    // The cap filled with three Subscribes and a Chat that stays open.
    const open = [];
    for (let i = 0; i < 3; i++) open.push(await subscribe("grpc", testAdminToken, address));
    const heldChat = new AbortController();
    const heldChatDone = chatFrom(heldChat);
    await eventually("the chat stream is open", () => server.ctx.openCalls.streams() === base + 4);
    assert.deepEqual(
      open.map((s) => s.outcome),
      ["OK", "OK", "OK"],
    );
    const subscribes = async () =>
      (await server.ctx.metrics.rpc.requests.get()).values
        .filter((v) => v.labels.method === "Subscribe" && v.labels.code === "resource_exhausted")
        .reduce((n, v) => n + v.value, 0);
    const before = await subscribes();
    for (const protocol of protocolNames) {
      const abort = new AbortController();
      const err = await failure(
        clientAs(ChatService, server.url, protocol, testAdminToken, fromAddress(address))
          .subscribe({ room }, { signal: abort.signal })
          [Symbol.asyncIterator]()
          .next(),
      );
      abort.abort();
      assert.equal(err?.rawMessage, "too many open streams for this address (at most 4)", protocol);
      // The request log's x-request-id comes with every answer from a call that was built.
      assert.equal(
        err?.metadata.get("x-request-id"),
        null,
        `${protocol}: answered before the call was built`,
      );
    }
    assert.equal(
      await subscribes(),
      before + protocolNames.length,
      "each refusal is counted in rpc_requests_total",
    );
    // A bidi stream, whose client has not finished sending, is answered all the same.
    const abort = new AbortController();
    const chatError = await chatFrom(abort);
    abort.abort();
    assert.equal(chatError?.code, Code.ResourceExhausted);
    assert.equal(chatError?.metadata.get("x-request-id"), null, "bidi: answered before the call was built");
    assert.equal(server.ctx.openCalls.streams(), base + 4);
    for (const s of open) s.close();
    heldChat.abort();
    await heldChatDone;
    await eventually("released", () => server.ctx.openCalls.streams() === base);
    const after = await subscribe("connect-binary-h2c", testAdminToken, address);
    assert.equal(after.outcome, "OK", "below the cap again, streams open as usual");
    after.close();
    await eventually("released", () => server.ctx.openCalls.streams() === base);
  });

  test("HTTP/2: the server announces MAX_CONCURRENT_STREAMS; a client that respects it waits, one that exceeds it loses the connection", async () => {
    const base = server.ctx.openCalls.streams();
    const body = grpcFrame(toBinary(SubscribeRequestSchema, create(SubscribeRequestSchema, { room })));
    const headers = {
      "content-type": "application/grpc",
      te: "trailers",
      authorization: `Bearer ${testAdminToken}`,
      "x-forwarded-for": "10.5.0.1",
    };
    const raw = await connectRawH2(server.port);
    assert.equal((await raw.serverSettings).get(setting.maxConcurrentStreams), 3);

    // node:http2 respects the setting once it has it: of five requests, three run and two
    // wait their turn. (Sent before the server's SETTINGS arrive, the extra two would be
    // refused with REFUSED_STREAM instead: see the last test.)
    const session = http2.connect(server.url);
    await new Promise((r) => session.once("remoteSettings", r));
    let answered = 0;
    const polite = Array.from({ length: 5 }, () => {
      const s = session.request({
        ":method": "POST",
        ":path": "/switchboard.v1.ChatService/Subscribe",
        ...headers,
      });
      s.on("error", () => {});
      s.on("response", () => answered++);
      s.end(body);
      return s;
    });
    await eventually("three polite streams answered", () => answered === 3);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(answered, 3, "the other two wait");
    assert.equal(server.ctx.openCalls.streams(), base + 3, "never more than three at once");
    polite[0]?.close(http2.constants.NGHTTP2_CANCEL);
    await eventually("a waiting one takes the freed place", () => answered === 4);
    assert.equal(server.ctx.openCalls.streams(), base + 3);
    session.destroy();
    await eventually("polite ones released", () => server.ctx.openCalls.streams() === base);

    // A raw client opens five at once, ignoring the setting.
    for (let i = 0; i < 5; i++) raw.request("/switchboard.v1.ChatService/Subscribe", headers, body);
    await Promise.race([raw.closed, new Promise((r) => setTimeout(r, 2000))]);
    const refused = [...raw.resets.values()].filter((c) => c === 7 /* REFUSED_STREAM */).length;
    console.log(
      `MAX_CONCURRENT_STREAMS=3, 5 streams opened at once: GOAWAY ${JSON.stringify(raw.goaway)}, ` +
        `REFUSED_STREAM resets ${refused}, connection closed: ${raw.isClosed()}`,
    );
    // nghttp2 treats exceeding an acknowledged limit as a connection error (RFC 9113 §5.1.2
    // allows that or refusing the stream): either way the extra streams never run.
    assert.ok(raw.goaway?.code === 1 || refused >= 2, "extra streams refused or the connection ended");
    raw.destroy();
    await eventually("nothing left open", () => server.ctx.openCalls.streams() === base);
    // Others are served as before.
    assert.ok((await collect(clientFor(UserService, server.url, "grpc").listUsers({}))).length > 0);
  });

  test("HTTP/2: streams a client opens before it has the server's SETTINGS are refused beyond the limit (REFUSED_STREAM)", async () => {
    const base = server.ctx.openCalls.streams();
    const session = http2.connect(server.url);
    const codes = await Promise.all(
      Array.from({ length: 5 }, () => {
        const s = session.request(
          grpcRequestHeaders("/switchboard.v1.ChatService/Subscribe", testAdminToken, {
            "x-forwarded-for": "10.6.0.1",
          }),
        );
        s.on("error", () => {});
        s.end(
          grpcFrame(
            toBinary(SubscribeRequestSchema, create(SubscribeRequestSchema, { room, afterSequence: 0n })),
          ),
        );
        return new Promise<string>((resolve) => {
          s.on("response", () => resolve("answered"));
          s.on("close", () => resolve(`reset ${s.rstCode}`));
        });
      }),
    );
    assert.deepEqual(tally(codes), { answered: 3, [`reset ${http2.constants.NGHTTP2_REFUSED_STREAM}`]: 2 });
    session.destroy();
    await eventually("released", () => server.ctx.openCalls.streams() === base);
  });
});

describe("RATE_LIMIT_USER_* and RATE_LIMIT_ADDRESS_*", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      RATE_LIMIT_USER_PER_SECOND: "1",
      RATE_LIMIT_USER_BURST: "3",
      RATE_LIMIT_ADDRESS_PER_SECOND: "1",
      RATE_LIMIT_ADDRESS_BURST: "6",
      TRUST_PROXY: "true",
    });
  });
  after(async () => {
    await server?.close();
  });

  function checkRetryHint(err: ConnectError, who: "user" | "address"): number {
    assert.match(err.rawMessage, new RegExp(`^rate limit exceeded for this ${who}: retry in \\d+ ms$`));
    const retryAfter = Number(err.metadata.get("retry-after"));
    assert.ok(
      Number.isInteger(retryAfter) && retryAfter >= 1,
      `retry-after: ${err.metadata.get("retry-after")}`,
    );
    const [info] = err.findDetails(RetryInfoSchema);
    assert.ok(info?.retryDelay, "a google.rpc.RetryInfo detail");
    const ms = Number(info.retryDelay.seconds) * 1000 + info.retryDelay.nanos / 1e6;
    assert.ok(ms > 0 && ms <= 1000, `retry delay ${ms} ms at 1 per second`);
    return ms;
  }

  for (const protocol of connectAndGrpc) {
    test(`over ${protocol}: a user's mutations beyond the burst are RESOURCE_EXHAUSTED with retry-after and RetryInfo, from any address`, async () => {
      const user = await signedInFrom(server, `10.10.0.${protocol.length}`, `Hasty ${protocol}`);
      const orders = (address: string) =>
        clientAs(OrderService, server.url, protocol, user.token, fromAddress(address));
      const create = (address: string) =>
        orders(address).createOrder({ productId: "p", quantity: 1, idempotencyKey: randomUUID() });
      // All at once (the bucket refills one a second), each from an address of its own.
      const errors = await Promise.all(
        Array.from({ length: 6 }, (_, i) => failure(create(`10.11.${protocol.length}.${i}`))),
      );
      assert.deepEqual(tally(errors.map((e) => (e ? codeName(e.code) : "OK"))), {
        OK: 3,
        RESOURCE_EXHAUSTED: 3,
      });
      const wait = Math.max(...errors.map((e) => (e ? checkRetryHint(e, "user") : 0)));
      // Reads are not counted.
      const mine = await collect(orders("10.12.0.1").listOrders({}));
      assert.equal(mine.length, 3, "only the allowed ones were made");
      for (const r of mine) await orders("10.12.0.1").getOrder({ id: r.order?.id ?? "" });
      // The hint is honest: after it, one more goes through.
      await new Promise((r) => setTimeout(r, wait + 50));
      assert.equal(await outcome(create("10.12.0.2")), "OK");
    });
  }

  test("admins are exempt from the per-user bucket but not from the per-address one", async () => {
    const adminUser = await signedInFrom(server, "10.20.0.1", "Busy Admin", Role.ADMIN);
    const order = () => ({
      userId: adminUser.user.id,
      productId: "admin",
      quantity: 1,
      idempotencyKey: randomUUID(),
    });
    for (const [who, token] of [
      ["an admin user", adminUser.token],
      ["the admin token", testAdminToken],
    ] as const) {
      const outcomes = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          outcome(
            clientAs(
              OrderService,
              server.url,
              "grpc",
              token,
              fromAddress(`10.21.${i}.${who.length}`),
            ).createOrder(order()),
          ),
        ),
      );
      assert.deepEqual(tally(outcomes), { OK: 8 }, `${who}: eight at once, past the user burst of three`);
    }
    const oneAddress = clientAs(OrderService, server.url, "grpc", testAdminToken, fromAddress("10.22.0.1"));
    const errors = await Promise.all(
      Array.from({ length: 8 }, () => failure(oneAddress.createOrder(order()))),
    );
    assert.deepEqual(tally(errors.map((e) => (e ? codeName(e.code) : "OK"))), {
      OK: 6,
      RESOURCE_EXHAUSTED: 2,
    });
    for (const e of errors) if (e) checkRetryHint(e, "address");
  });

  test("SignIn is counted per address, signed in or not; spoofed first X-Forwarded-For hops do not help", async () => {
    const user = await signedInFrom(server, "10.30.0.1", "Guessed");
    const address = "10.31.0.1";
    const guess = (protocol: ProtocolName, forwarded: string, password = "not-the-password") =>
      failure(
        clientAs(AuthService, server.url, protocol, null, fromAddress(forwarded)).signIn({
          email: user.user.email,
          password,
        }),
      );
    // Nine guesses at once from one address, two of them claiming other first hops: if those
    // escaped the address's bucket, seven would be answered.
    const errors = await Promise.all([
      ...Array.from({ length: 6 }, (_, i) => guess(i % 2 ? "connect-json" : "grpc", address)),
      guess("grpc", `198.51.100.1, ${address}`),
      guess("connect-json", `198.51.100.2, 198.51.100.3, ${address}`),
      guess("grpc", address),
    ]);
    assert.deepEqual(tally(errors.map((e) => (e ? codeName(e.code) : "OK"))), {
      UNAUTHENTICATED: 6,
      RESOURCE_EXHAUSTED: 3,
    });
    for (const e of errors) if (e?.code === Code.ResourceExhausted) checkRetryHint(e, "address");
    assert.equal(await guess("grpc", "10.31.0.2", user.password), undefined, "another address signs in");
  });

  test("each message of a bidi stream is counted: a chat flood ends RESOURCE_EXHAUSTED after the burst", async () => {
    const user = await signedInFrom(server, "10.40.0.1", "Chatty");
    const room = "rate-bidi";
    const posted: string[] = [];
    await expectCode(
      (async () => {
        const chat = clientAs(ChatService, server.url, "grpc", user.token, fromAddress("10.40.0.2"));
        for await (const r of chat.chat(
          streamOf(Array.from({ length: 6 }, (_, i) => ({ room, content: `m${i}` }))),
        )) {
          if (r.message) posted.push(r.message.content);
        }
      })(),
      Code.ResourceExhausted,
      "the fourth message",
    );
    // The user's burst is three: three posts, then the stream ends (perhaps before it has
    // echoed the third back).
    assert.deepEqual(posted, ["m0", "m1", "m2"].slice(0, posted.length));
    assert.equal(await roomSize(server, room), 3);
  });
});

describe("STREAM_WRITE_TIMEOUT_MS", () => {
  let server: TestServer;
  const room = "busy-room";
  before(async () => {
    server = await startTestServer({ STREAM_WRITE_TIMEOUT_MS: "1000" });
    const chat = clientFor(ChatService, server.url, "grpc");
    const poster = (await createSignedInUser(server.url, { name: "Poster" })).user.id;
    // 40 messages of 3 KB: far more than a 1 KiB window and the server's write buffer hold.
    for (let i = 0; i < 40; i++) await chat.sendMessage({ room, userId: poster, content: "w".repeat(3000) });
  });
  after(async () => {
    await server?.close();
  });

  const subscribeRequest = (contentType: "grpc" | "connect") => {
    const message = toBinary(
      SubscribeRequestSchema,
      create(SubscribeRequestSchema, { room, afterSequence: 0n }),
    );
    return contentType === "grpc"
      ? {
          headers: { "content-type": "application/grpc", te: "trailers" },
          path: "/switchboard.v1.ChatService/Subscribe",
          body: grpcFrame(message),
        }
      : {
          headers: { "content-type": "application/connect+proto", "connect-protocol-version": "1" },
          path: "/switchboard.v1.ChatService/Subscribe",
          body: grpcFrame(message),
        };
  };

  for (const kind of ["grpc", "connect"] as const) {
    test(`a ${kind} client that opens a stream and never reads is reset with ENHANCE_YOUR_CALM and everything is freed`, {
      timeout: 20_000,
    }, async () => {
      const baseStreams = server.ctx.openCalls.streams();
      const baseSubs = server.ctx.bus.subscriptionCount();
      // A 1 KiB window that is never topped up: the client reads nothing.
      const session = http2.connect(server.url, { settings: { initialWindowSize: 1024 } });
      const { headers, path, body } = subscribeRequest(kind);
      const start = performance.now();
      const stream = session.request({
        ":method": "POST",
        ":path": path,
        authorization: `Bearer ${testAdminToken}`,
        ...headers,
      });
      stream.on("error", () => {});
      stream.end(body);
      const code = await new Promise<number | undefined>((resolve) =>
        stream.on("close", () => resolve(stream.rstCode)),
      );
      console.log(
        `never-reading ${kind} client reset after ${(performance.now() - start).toFixed(0)} ms (timeout 1000 ms)`,
      );
      assert.equal(code, http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
      await eventually("the stream is released", () => server.ctx.openCalls.streams() === baseStreams);
      await eventually("its subscription is released", () => server.ctx.bus.subscriptionCount() === baseSubs);
      session.close();
    });
  }

  test("a client that pauses for less than the timeout and then reads gets everything", {
    timeout: 20_000,
  }, async () => {
    const session = http2.connect(server.url, { settings: { initialWindowSize: 1024 } });
    const { headers, path, body } = subscribeRequest("grpc");
    const stream = session.request({
      ":method": "POST",
      ":path": path,
      authorization: `Bearer ${testAdminToken}`,
      ...headers,
    });
    stream.end(body);
    stream.pause();
    await new Promise((r) => setTimeout(r, 600));
    let bytes = 0;
    const wanted = 40 * 3000;
    await new Promise<void>((resolve, reject) => {
      stream.on("data", (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes >= wanted) resolve();
      });
      stream.on("close", () =>
        bytes >= wanted ? resolve() : reject(new Error(`closed, rst ${stream.rstCode}`)),
      );
      stream.resume();
    });
    assert.ok(bytes >= wanted);
    stream.close(http2.constants.NGHTTP2_CANCEL);
    session.close();
  });
});
