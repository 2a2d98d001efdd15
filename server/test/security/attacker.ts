// The attacking client of abuse.test.ts, run as a process of its own (started by the test under
// `nice -n 19`) so that its own work (building ten thousand requests, holding five thousand
// streams) is not done on the bystander's event loop or its threads. Each attack returns what
// was sent and how it was answered, over the IPC channel.
import { randomUUID } from "node:crypto";
import * as http2 from "node:http2";
import * as net from "node:net";
import { setPriority } from "node:os";
import { create, toBinary } from "@bufbuild/protobuf";
import { ConnectError, createClient } from "@connectrpc/connect";
import {
  ChatService,
  SendMessageRequestSchema,
  SubscribeRequestSchema,
} from "../../../gen/switchboard/v1/chat_pb.js";
import { OrderService, OrderStatus } from "../../../gen/switchboard/v1/order_pb.js";
import { UserService } from "../../../gen/switchboard/v1/user_pb.js";
import { type ProtocolName, protocolNames } from "../support/clients.ts";
import { connectRawH2, grpcFrame, grpcRequestHeaders } from "./raw-h2.ts";
import {
  clientAs,
  codeName,
  fromAddress,
  outcome,
  percentile,
  pool,
  type Tally,
  tally,
  transportAs,
} from "./support.ts";

// The attacker stands for clients on other machines: its own load generation runs at the
// lowest CPU priority, so that on this 2-core box it does not take CPU time from the server,
// the database and the bystander that a remote attacker could not take. Linux nice applies per
// thread and new threads inherit it: the test starts this process under `nice`, and where it
// could not, this sets the main thread's. The server's work of answering the attack is not
// discounted.
try {
  setPriority(19);
} catch {
  // not permitted here: measure as is
}

export interface AttackResult {
  sent: number;
  answers: Tally;
  /** Anything else worth reporting (e.g. latencies of the attacker's own answers). */
  extra?: Record<string, unknown>;
}

/** Runs rounds of `round()` until at least `minMs` have passed; returns the outcomes. */
async function forAtLeast(minMs: number, round: () => Promise<string[]>): Promise<string[]> {
  const until = performance.now() + minMs;
  const out: string[] = [];
  do out.push(...(await round()));
  while (performance.now() < until);
  return out;
}

/** Sends one HTTP/1.1 request on a connection of its own and reads until `answer` finds the outcome. */
function h1Exchange(
  port: number,
  request: Buffer,
  answer: (text: string) => string | undefined,
): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    let text = "";
    const done = (outcome: string) => {
      clearTimeout(timer);
      resolve(outcome);
      socket.destroy();
    };
    const timer = setTimeout(() => done("no answer in 10 s"), 10_000);
    socket.on("data", (chunk: Buffer) => {
      text += chunk.toString("latin1");
      const outcome = answer(text);
      if (outcome !== undefined) done(outcome);
    });
    socket.on("error", () => {});
    socket.on("close", () => done(answer(text) ?? "closed without an answer"));
    socket.write(request);
  });
}

const h2Codes: Record<number, string> = Object.fromEntries(
  Object.entries(http2.constants)
    .filter(([k]) => k.startsWith("NGHTTP2_") && !k.startsWith("NGHTTP2_ERR") && !k.includes("FLAG"))
    .map(([k, v]) => [v as number, k.replace("NGHTTP2_", "")]),
);
const h2Code = (code: number | undefined) => (code === undefined ? "none" : (h2Codes[code] ?? String(code)));

interface IdleState {
  aborts: AbortController[];
  settled: Promise<unknown>[];
  refused: Tally;
  pending: number;
}
let idle: IdleState | undefined;

export const attacks = {
  /** Loads everything, so the first real attack does not pay for it. */
  async ping() {
    return "pong";
  },

  /** Another user's orders, by id, over every protocol: read and cancel. */
  async idor(p: { baseUrl: string; token: string; xff: string; orderIds: string[]; minMs: number }) {
    const byProtocol: Record<string, Tally> = {};
    let sent = 0;
    await Promise.all(
      protocolNames.map(async (protocol) => {
        const orders = clientAs(OrderService, p.baseUrl, protocol, p.token, fromAddress(p.xff));
        const outcomes = await forAtLeast(p.minMs, () =>
          pool(
            4,
            p.orderIds.flatMap((id) => [
              () => outcome(orders.getOrder({ id })),
              () => outcome(orders.updateOrderStatus({ id, status: OrderStatus.CANCELLED })),
            ]),
          ),
        );
        sent += outcomes.length;
        byProtocol[protocol] = tally(outcomes);
      }),
    );
    const answers: Tally = {};
    for (const t of Object.values(byProtocol))
      for (const [k, v] of Object.entries(t)) answers[k] = (answers[k] ?? 0) + v;
    return { sent, answers, extra: { byProtocol } } satisfies AttackResult;
  },

  /** Messages posted as someone else: SendMessage over Connect and gRPC, and Chat streams. */
  async spoof(p: {
    baseUrl: string;
    token: string;
    xff: string;
    victimId: string;
    room: string;
    minMs: number;
  }) {
    const unary = (["connect-json", "grpc"] as ProtocolName[]).map((protocol) =>
      clientAs(ChatService, p.baseUrl, protocol, p.token, fromAddress(p.xff)),
    );
    const bidi = (["grpc", "connect-binary-h2c"] as ProtocolName[]).map((protocol) =>
      clientAs(ChatService, p.baseUrl, protocol, p.token, fromAddress(p.xff)),
    );
    const message = { room: p.room, userId: p.victimId, content: "spoofed: I am the victim" };
    const outcomes = await forAtLeast(p.minMs, () =>
      pool(8, [
        ...Array.from(
          { length: 20 },
          (_, i) => () => outcome(unary[i % 2]?.sendMessage(message) ?? Promise.reject()),
        ),
        ...Array.from({ length: 4 }, (_, i) => async () => {
          try {
            for await (const _ of bidi[i % 2]?.chat(
              (async function* () {
                yield message;
                yield message;
              })(),
            ) ?? []) {
              // a spoofed post would be echoed here
            }
            return "OK";
          } catch (err) {
            return codeName(ConnectError.from(err).code);
          }
        }),
      ]),
    );
    return { sent: outcomes.length, answers: tally(outcomes) } satisfies AttackResult;
  },

  /** Calls with forged, expired and otherwise bad credentials. */
  async badTokens(p: { baseUrl: string; headers: string[]; userId: string; xff: string; minMs: number }) {
    const clients = p.headers.flatMap((authorization) =>
      (["grpc", "connect-json"] as ProtocolName[]).map((protocol) =>
        clientAs(UserService, p.baseUrl, protocol, null, { authorization, ...fromAddress(p.xff) }),
      ),
    );
    const outcomes = await forAtLeast(p.minMs, () =>
      pool(
        16,
        clients.map((users) => () => outcome(users.getUser({ id: p.userId }))),
      ),
    );
    return { sent: outcomes.length, answers: tally(outcomes) } satisfies AttackResult;
  },

  /** Requests far over MAX_MESSAGE_BYTES over every protocol, and gRPC length prefixes that lie. */
  async oversize(p: {
    baseUrl: string;
    token: string;
    xff: string;
    bytes: number;
    perProtocol: number;
    lies: number;
    minMs: number;
  }) {
    const content = "o".repeat(p.bytes);
    const message = { room: "oversize", content };
    // Over HTTP/1.1, one connection per request, dropped once answered: after refusing a
    // body it stopped reading, the server leaves that connection unusable (see limits.test.ts).
    const port = Number(new URL(p.baseUrl).port);
    const auth = `Authorization: Bearer ${p.token}\r\nX-Forwarded-For: ${p.xff}\r\n`;
    const json = Buffer.from(JSON.stringify(message));
    const envelope = grpcFrame(toBinary(SendMessageRequestSchema, create(SendMessageRequestSchema, message)));
    const request = (contentType: string, body: Buffer) =>
      Buffer.concat([
        Buffer.from(
          `POST /switchboard.v1.ChatService/SendMessage HTTP/1.1\r\nHost: x\r\nContent-Type: ${contentType}\r\n${auth}Content-Length: ${body.length}\r\n\r\n`,
        ),
        body,
      ]);
    const viaSocket: Record<string, () => Promise<string>> = {
      "connect-json": () =>
        h1Exchange(port, request("application/json", json), (text) => {
          const code = /"code":"(\w+)"/.exec(text)?.[1];
          return code?.toUpperCase();
        }),
      "grpc-web": () =>
        h1Exchange(port, request("application/grpc-web+proto", envelope), (text) => {
          const status = /grpc-status:\s*(\d+)/i.exec(text)?.[1];
          return status === undefined ? undefined : codeName(Number(status));
        }),
    };
    const outcomes = (
      await Promise.all(
        protocolNames.map((protocol) => {
          const chat = createClient(
            ChatService,
            transportAs(protocol, p.baseUrl, p.token, fromAddress(p.xff), 1000),
          );
          const call = viaSocket[protocol] ?? (() => outcome(chat.sendMessage(message)));
          return forAtLeast(p.minMs, () =>
            pool(
              4,
              Array.from({ length: p.perProtocol }, () => call),
            ),
          );
        }),
      )
    ).flat();
    // A length prefix claiming 1 GiB, followed by a few bytes and then nothing.
    const session = http2.connect(p.baseUrl);
    session.on("error", () => {});
    const lies = await pool(
      8,
      Array.from({ length: p.lies }, () => async () => {
        const stream = session.request(
          grpcRequestHeaders("/switchboard.v1.ChatService/SendMessage", p.token, fromAddress(p.xff)),
        );
        const prefix = Buffer.alloc(5);
        prefix.writeUInt32BE(2 ** 30, 1);
        stream.write(Buffer.concat([prefix, Buffer.alloc(16)]));
        stream.on("error", () => {});
        // Answered once the status arrives; the stream is then dropped, as the rest never comes.
        return new Promise<string>((resolve) => {
          const answer = (status: unknown) => {
            if (status === undefined) return;
            resolve(codeName(Number(status)));
            stream.close(http2.constants.NGHTTP2_CANCEL);
          };
          stream.on("response", (h) => answer(h["grpc-status"]));
          stream.on("trailers", (t) => answer(t["grpc-status"]));
          stream.on("close", () => resolve(`reset ${h2Code(stream.rstCode)}`));
          stream.resume();
        });
      }),
    );
    session.destroy();
    return {
      sent: outcomes.length + lies.length,
      answers: tally([...outcomes, ...lies]),
    } satisfies AttackResult;
  },

  /** `count` CreateOrder calls at once from one user on one connection. */
  async burst(p: { baseUrl: string; token: string; xff: string; count: number }) {
    // node:http2's default 10 MB session memory cannot queue ten thousand requests: the client
    // would reset its own streams (ENHANCE_YOUR_CALM). An attacker raises it.
    const orders = createClient(
      OrderService,
      transportAs("grpc", p.baseUrl, p.token, fromAddress(p.xff), 1000),
    );
    const start = performance.now();
    const latencies: number[] = [];
    const outcomes = await Promise.all(
      Array.from({ length: p.count }, async () => {
        const t = performance.now();
        try {
          await orders.createOrder({ productId: "burst", quantity: 1, idempotencyKey: randomUUID() });
          return "OK";
        } catch (err) {
          const ce = ConnectError.from(err);
          const who = /for (this \w+)/.exec(ce.rawMessage)?.[1];
          return who ? `${codeName(ce.code)} (${who})` : codeName(ce.code);
        } finally {
          latencies.push(performance.now() - t);
        }
      }),
    );
    const elapsedMs = performance.now() - start;
    latencies.sort((a, b) => a - b);
    return {
      sent: p.count,
      answers: tally(outcomes),
      extra: { elapsedMs, answerP50: percentile(latencies, 50), answerP99: percentile(latencies, 99) },
    } satisfies AttackResult;
  },

  /** Opens `perConnection` idle Subscribe streams on each of one connection per token, and keeps them. */
  async idleOpen(p: { baseUrl: string; tokens: string[]; perConnection: number; room: string; xff: string }) {
    const state: IdleState = { aborts: [], settled: [], refused: {}, pending: 0 };
    idle = state;
    for (const token of p.tokens) {
      const chat = createClient(ChatService, transportAs("grpc", p.baseUrl, token, fromAddress(p.xff)));
      const abort = new AbortController();
      state.aborts.push(abort);
      for (let i = 0; i < p.perConnection; i++) {
        state.pending++;
        const it = chat.subscribe({ room: p.room }, { signal: abort.signal })[Symbol.asyncIterator]();
        state.settled.push(
          it.next().then(
            () => {
              state.pending--;
              tally(["OK (a message on an idle room?)"], state.refused);
            },
            (err: unknown) => {
              state.pending--;
              if (abort.signal.aborted) return;
              const ce = ConnectError.from(err);
              const who = /for (this \w+)/.exec(ce.rawMessage)?.[1];
              tally([who ? `${codeName(ce.code)} (${who})` : codeName(ce.code)], state.refused);
            },
          ),
        );
      }
    }
    return { sent: p.tokens.length * p.perConnection, answers: {} } satisfies AttackResult;
  },

  idleStatus() {
    return { refused: { ...idle?.refused }, pending: idle?.pending ?? 0 };
  },

  /** Closes every idle stream (cancels them) and reports how they were answered. */
  async idleRelease() {
    const state = idle;
    if (!state) return { refused: {}, pending: 0 };
    for (const a of state.aborts) a.abort();
    await Promise.all(state.settled);
    idle = undefined;
    return { refused: state.refused, pending: state.pending };
  },

  /** Opens `streams` Subscribe streams that replay a busy room, with a tiny window, and never reads. */
  async neverRead(p: { baseUrl: string; token: string; room: string; streams: number; xff: string }) {
    const session = http2.connect(p.baseUrl, { settings: { initialWindowSize: 1024 } });
    session.on("error", () => {});
    const body = grpcFrame(
      toBinary(SubscribeRequestSchema, create(SubscribeRequestSchema, { room: p.room, afterSequence: 0n })),
    );
    const start = performance.now();
    const times: number[] = [];
    const codes = await Promise.all(
      Array.from({ length: p.streams }, () => {
        const stream = session.request(
          grpcRequestHeaders("/switchboard.v1.ChatService/Subscribe", p.token, fromAddress(p.xff)),
        );
        stream.on("error", () => {});
        stream.end(body);
        return new Promise<string>((resolve) =>
          stream.on("close", () => {
            times.push(performance.now() - start);
            resolve(`reset ${h2Code(stream.rstCode)}`);
          }),
        );
      }),
    );
    session.destroy();
    times.sort((a, b) => a - b);
    return {
      sent: p.streams,
      answers: tally(codes),
      extra: { firstResetMs: times[0], lastResetMs: times.at(-1) },
    } satisfies AttackResult;
  },

  /** CVE-2023-44487: connections that open and at once cancel streams, thousands per write. */
  async rapidReset(p: {
    port: number;
    token: string;
    xff: string;
    connections: number;
    streamsPerConnection: number;
  }) {
    const headers = {
      "content-type": "application/grpc",
      te: "trailers",
      authorization: `Bearer ${p.token}`,
      ...fromAddress(p.xff),
    };
    const results = await pool(
      8,
      Array.from({ length: p.connections }, () => async () => {
        const conn = await connectRawH2(p.port);
        await conn.serverSettings;
        const frames: Buffer[] = [];
        for (let i = 0; i < p.streamsPerConnection; i++) {
          frames.push(conn.openAndResetFrames("/switchboard.v1.ChatService/Subscribe", headers));
        }
        conn.write(Buffer.concat(frames));
        await Promise.race([conn.closed, new Promise((r) => setTimeout(r, 3000))]);
        const goaway = conn.goaway;
        conn.destroy();
        return {
          outcome: goaway ? `GOAWAY ${h2Code(goaway.code)}` : conn.isClosed() ? "closed" : "still open",
          // Streams the server took up before it went away (ids are odd: 1, 3, 5, ...).
          processed: goaway ? (goaway.lastStreamId + 1) / 2 : p.streamsPerConnection,
        };
      }),
    );
    const processed = results.map((r) => r.processed).sort((a, b) => a - b);
    return {
      sent: p.connections * p.streamsPerConnection,
      answers: tally(results.map((r) => r.outcome)),
      extra: {
        streamsProcessedPerConnection: { min: processed[0], max: processed.at(-1) },
      },
    } satisfies AttackResult;
  },
};

export type AttackName = keyof typeof attacks;

process.on("message", async (message) => {
  const { id, name, params } = message as { id: number; name: AttackName; params: never };
  try {
    const result = await (attacks[name] as (p: unknown) => unknown)(params);
    process.send?.({ id, result });
  } catch (err) {
    process.send?.({
      id,
      error: err instanceof Error ? `${err.message}\n${err.stack}` : String(err),
    });
  }
});
// The test's end (or its death) closes the channel: nothing is left running.
process.on("disconnect", () => process.exit(0));
