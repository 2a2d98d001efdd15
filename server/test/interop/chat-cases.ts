// The ChatService cases of the matrix, written once, as order-cases.ts does for OrderService
// and NotificationService. buf curl, grpc-js and curl run them through an RpcClient
// (rpc-client.ts); Python grpcio runs the same steps in python/chat_cases.py and prints the same
// outcomes. Every client's outcomes are judged by the assertions here.
//
// Every case has a room of its own, named after the row's tag. Chat and Subscribe never end by
// themselves (Chat ends when the client half-closes): the Chat case runs its bidi stream while
// another client of the same kind follows the room with Subscribe, and both must see the same
// messages in the same order; the Subscribe case replays the room, receives a message another
// client posts while it is open, cancels, and resumes from a sequence it received.
import assert from "node:assert/strict";
import type { TestServer } from "../support/test-server.ts";
import type { matrixFor } from "./matrix.ts";
import {
  assertSubscriptionsBackTo,
  type CaseClients,
  type Failure,
  liveSubscriptions,
  unknownId,
} from "./order-cases.ts";
import { camelKeys, type Json, type RpcClient, rpcFailure } from "./rpc-client.ts";

const chatService = "switchboard.v1.ChatService";

/** The RPCs of the chat table (its columns, in this order) and their procedures. */
export const chatProcedures = {
  Chat: `${chatService}/Chat`,
  SendMessage: `${chatService}/SendMessage`,
  Subscribe: `${chatService}/Subscribe`,
} as const;
export type ChatRpc = keyof typeof chatProcedures;
export const chatRpcs = Object.keys(chatProcedures) as ChatRpc[];
/** The RPCs whose streams hold a live subscription on the server while they are open. */
export const liveChatRpcs: readonly ChatRpc[] = ["Chat", "Subscribe"];
/** A room name the contract refuses (^[a-z0-9-]{1,64}$); python/chat_cases.py uses the same. */
export const badRoom = "Not A Room!";
const uuidV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** A ChatMessage as proto3 JSON names it (createTime is only compared within one client). */
export interface ChatMessage {
  id: string;
  room: string;
  userId: string;
  content: string;
  createTime: unknown;
  sequence: string;
}

/** What each case reports; python/chat_cases.py prints the same keys in snake_case. */
export interface ChatOutcomes {
  Chat: {
    userId: string;
    room: string;
    /** Posted by the other client before the Subscribe, which replays it. */
    welcome: ChatMessage;
    /** What the bidi stream received: its own two posts, and then it ended cleanly. */
    chat: ChatMessage[];
    /** What the other client's Subscribe received while the bidi stream ran. */
    heard: ChatMessage[];
    badRoom: Failure;
    unknownUser: Failure;
  };
  SendMessage: {
    userId: string;
    room: string;
    first: ChatMessage;
    second: ChatMessage;
    emptyContent: Failure;
    badRoom: Failure;
    unknownUser: Failure;
  };
  Subscribe: {
    userId: string;
    room: string;
    /** Posted before the Subscribe. */
    sent: ChatMessage[];
    /** The message the other client posted while the Subscribe was open. */
    live: ChatMessage;
    messages: ChatMessage[];
    resumed: ChatMessage[];
    badRoom: Failure;
  };
}

async function newUser(c: RpcClient, email: string): Promise<string> {
  const { user } = (await c.unary("switchboard.v1.UserService/CreateUser", {
    name: "Chatter",
    email,
    age: 30,
  })) as { user: { id: string } };
  return user.id;
}

async function sendMessage(c: RpcClient, room: string, userId: string, content: string) {
  const { message } = await c.unary(chatProcedures.SendMessage, { room, user_id: userId, content });
  return message as ChatMessage;
}

/** Reads `take` messages of a live Subscribe, then cancels it; `onMessage(i)` as in order-cases.ts. */
async function subscribe(
  c: RpcClient,
  request: Json,
  take: number,
  onMessage?: (i: number) => Promise<void>,
) {
  const messages = await c.serverStream(chatProcedures.Subscribe, request, {
    take,
    ...(onMessage ? { onMessage: (_: Json, i: number) => onMessage(i) } : {}),
  });
  return messages.map((m) => m.message as ChatMessage);
}

/**
 * A Chat stream: the requests, then a half-close, read to the end the server gives it. A client
 * that writes in lockstep waits for `awaitReplies[i]` messages in all before writing request
 * i + 1 (and before half-closing after the last); buf curl writes them all at once from stdin.
 */
async function chat(c: RpcClient, requests: Json[], awaitReplies?: number[]) {
  const messages = await c.bidiStream(chatProcedures.Chat, requests, awaitReplies ? { awaitReplies } : {});
  return messages.map((m) => m.message as ChatMessage);
}

/** Each case, run through an RpcClient; `tag` names this row's rooms and users. */
const run: { [R in ChatRpc]: (c: CaseClients, tag: string) => Promise<ChatOutcomes[R]> } = {
  async Chat({ client, other }, tag) {
    const room = `chat-${tag}`;
    const userId = await newUser(client, `chat@${tag}.example`);
    const welcome = await sendMessage(other, room, userId, "Welcome");
    // The other client follows the room; once the welcome is replayed, the client under test
    // joins (empty content: no message), posts twice and half-closes. Its stream is live from
    // the join: it gets its own two posts, not the welcome, and then ends cleanly.
    let chatted: ChatMessage[] | undefined;
    const heard = await subscribe(other, { room }, 3, async (i) => {
      if (i !== 0) return;
      chatted = await chat(
        client,
        [
          { room, user_id: userId, content: "" },
          { room, user_id: userId, content: "First" },
          { room, user_id: userId, content: "Second" },
        ],
        [0, 1, 2],
      );
    });
    assert.ok(chatted, "the Chat stream ran");
    // A bad request ends the sender's stream with its code.
    const badRoomFailure = await rpcFailure(chat(client, [{ room: badRoom, user_id: userId, content: "x" }]));
    const unknownUser = await rpcFailure(chat(client, [{ room, user_id: unknownId, content: "Nobody" }]));
    return { userId, room, welcome, chat: chatted, heard, badRoom: badRoomFailure, unknownUser };
  },

  async SendMessage({ client }, tag) {
    const room = `send-${tag}`;
    const userId = await newUser(client, `send-message@${tag}.example`);
    const first = await sendMessage(client, room, userId, "Hello");
    const second = await sendMessage(client, room, userId, "Again");
    const emptyContent = await rpcFailure(sendMessage(client, room, userId, ""));
    const badRoomFailure = await rpcFailure(sendMessage(client, badRoom, userId, "x"));
    const unknownUser = await rpcFailure(sendMessage(client, room, unknownId, "Nobody"));
    return { userId, room, first, second, emptyContent, badRoom: badRoomFailure, unknownUser };
  },

  async Subscribe({ client, other }, tag) {
    const room = `subscribe-${tag}`;
    const userId = await newUser(client, `subscribe-chat@${tag}.example`);
    const sent = [];
    for (const content of ["One", "Two", "Three"])
      sent.push(await sendMessage(client, room, userId, content));
    // No cursor: the room's recent history (all three), then live. Once the history is in, the
    // other client posts: the open stream must receive it.
    let live: ChatMessage | undefined;
    const messages = await subscribe(client, { room }, 4, async (i) => {
      if (i === 2) live = await sendMessage(other, room, userId, "Four");
    });
    assert.ok(live, "the other client posted");
    // Resuming after the second message gives the third and the fourth, and nothing else.
    const resumed = await subscribe(client, { room, after_sequence: messages[1]?.sequence ?? "0" }, 2);
    const badRoomFailure = await rpcFailure(subscribe(client, { room: badRoom }, 1));
    return { userId, room, sent, live, messages, resumed, badRoom: badRoomFailure };
  },
};

function assertMessage(m: ChatMessage | undefined, expected: Partial<ChatMessage>): void {
  assert.ok(m, "a message");
  assert.match(m.id, uuidV7);
  assert.partialDeepStrictEqual(m, expected);
}

function assertInvalidArgument(f: Failure): void {
  assert.equal(f.code, "invalid_argument", f.message);
}

function assertUnknownUser(f: Failure): void {
  assert.equal(f.code, "not_found", f.message);
  assert.ok(f.message.includes(unknownId), `names the user: ${f.message}`);
}

/** The assertions on each case's outcome, whichever client produced it. */
const check: { [R in ChatRpc]: (o: ChatOutcomes[R]) => void } = {
  Chat(o) {
    assertMessage(o.welcome, { room: o.room, userId: o.userId, content: "Welcome", sequence: "1" });
    assert.deepEqual(
      o.chat.map((m) => [m.content, m.sequence]),
      [
        ["First", "2"],
        ["Second", "3"],
      ],
      "the stream gets its own posts, with consecutive sequences, and not what came before the join",
    );
    for (const m of o.chat) assertMessage(m, { room: o.room, userId: o.userId });
    assert.deepEqual(
      o.heard,
      [o.welcome, ...o.chat],
      "the Subscribe saw the same messages in the same order",
    );
    assertInvalidArgument(o.badRoom);
    assertUnknownUser(o.unknownUser);
  },

  SendMessage(o) {
    assertMessage(o.first, { room: o.room, userId: o.userId, content: "Hello", sequence: "1" });
    assertMessage(o.second, { room: o.room, userId: o.userId, content: "Again", sequence: "2" });
    assert.notEqual(o.second.id, o.first.id);
    assertInvalidArgument(o.emptyContent);
    assertInvalidArgument(o.badRoom);
    assertUnknownUser(o.unknownUser);
  },

  Subscribe(o) {
    assert.deepEqual(
      o.sent.map((m) => [m.content, m.sequence]),
      [
        ["One", "1"],
        ["Two", "2"],
        ["Three", "3"],
      ],
    );
    assertMessage(o.live, { room: o.room, userId: o.userId, content: "Four", sequence: "4" });
    assert.deepEqual(o.messages, [...o.sent, o.live], "the history, then the live message");
    assert.deepEqual(o.resumed, o.messages.slice(2), "resuming after the second gives the third and fourth");
    assertInvalidArgument(o.badRoom);
  },
};

/** Checks an outcome printed by another program (snake_case keys are fine). */
export function checkChatOutcome(rpc: ChatRpc, outcome: unknown): void {
  check[rpc](camelKeys(outcome) as never);
}

/** Runs one case through `clients` and checks its outcome. */
export async function runChatCase(rpc: ChatRpc, clients: CaseClients, tag: string): Promise<void> {
  check[rpc]((await run[rpc](clients, tag)) as never);
}

/**
 * The cells of one client row of the chat table (`rpcs`: the columns it has; the others the
 * caller records itself): each runs its case and checks the outcome; after a live stream case,
 * the server must have ended every stream the client left.
 */
export function chatCells(
  cell: ReturnType<typeof matrixFor>["cell"],
  row: string,
  tag: string,
  setup: () => { server: TestServer; clients: CaseClients },
  rpcs: readonly ChatRpc[] = chatRpcs,
  options: { [R in ChatRpc]?: Parameters<ReturnType<typeof matrixFor>["cell"]>[2] } = {},
): void {
  for (const rpc of rpcs) {
    cell(
      { table: "chat", row, column: rpc },
      async () => {
        const { server, clients } = setup();
        const before = liveSubscriptions(server);
        await runChatCase(rpc, clients, tag);
        if (liveChatRpcs.includes(rpc)) await assertSubscriptionsBackTo(server, before);
      },
      options[rpc],
    );
  }
}
