import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { v7 as uuidv7 } from "uuid";
import {
  type ChatMessage,
  ChatRequestSchema,
  type ChatService,
  SubscribeResponseSchema,
} from "../../../gen/switchboard/v1/chat_pb.js";
import { AsyncQueue } from "../async-queue.ts";
import { actingUser } from "../auth/principal.ts";
import { withDeadline } from "../db/deadline.ts";
import { toConnectError } from "../db/errors.ts";
import { responseBatcher } from "../response-batch.ts";
import { postChatMessage } from "../stores/chat-store.ts";
import { headSequence, type StoredEvent } from "../stores/event-store.ts";
import { getUser } from "../stores/user-store.ts";
import type { UserCache } from "../user-cache.ts";
import type { CheckMessage } from "../validation.ts";
import { chatTopic, decodeChatMessage, encodeChatMessage, subscribeResponseOf } from "./chat-messages.ts";
import { followBatchesForCall, followForCall, type LiveFeeds } from "./live-feeds.ts";

/** Messages a Subscribe without a cursor replays before it goes live. */
export const recentHistory = 50;

interface PostRequest {
  room: string;
  userId: string;
  content: string;
}

/**
 * ChatService. A room is any name matching [a-z0-9-]{1,64} (checked by the contract): it
 * comes into being with its first message, and subscribing to an empty room simply waits.
 * Every message is stored and becomes an event of its room in one transaction, so history
 * (Subscribe's replay) and live delivery are the same sequence and never disagree, whichever
 * protocol or instance a member uses.
 */
export function createChatService(
  feeds: LiveFeeds,
  checkMessage: CheckMessage,
  /** Where a post finds its sender's name (GetUser's cache: usually no database read). */
  userCache: UserCache,
): ServiceImpl<typeof ChatService> {
  const { db, bus } = feeds;
  const gate = feeds.gate ?? ((work) => work());
  const subscribeBatch = responseBatcher(SubscribeResponseSchema);

  async function post(req: PostRequest, ctx: HandlerContext): Promise<ChatMessage> {
    // The sender's name (from the user cache), then the message and its event in one statement
    // (chat-store.ts says why). A sender deleted in between is refused by the foreign key.
    // The sender must exist; the foreign key would say so too, but not which rule failed.
    const sender = await userCache.get(req.userId, () =>
      withDeadline(db, ctx, (tx) => getUser(tx, req.userId)),
    );
    if (!sender) throw new ConnectError(`user ${req.userId} not found`, Code.NotFound);
    const event = await withDeadline(db, ctx, async (db) => {
      const message = {
        id: uuidv7(),
        room: req.room,
        userId: req.userId,
        userName: sender.name,
        content: req.content,
        createTime: new Date(),
      };
      const { id, room, userId, content, createTime } = message;
      return postChatMessage(db, {
        message: { id, room, userId, content, createTime },
        event: { topic: chatTopic(req.room), key: req.userId, payload: encodeChatMessage(message) },
      });
    });
    await bus.publish([event]);
    return decodeChatMessage(event);
  }

  return {
    async sendMessage(req, ctx) {
      // The sender is the caller (the auth interceptor refused a user naming anyone else).
      return { message: await post({ ...req, userId: actingUser(ctx, req.userId) }, ctx) };
    },

    async *subscribe(req, ctx) {
      const after =
        req.afterSequence ??
        BigInt(Math.max(0, (await gate(() => headSequence(db, chatTopic(req.room)))) - recentHistory));
      // Whatever waited for this stream goes out in one write, as the same response objects
      // every subscriber on this instance writes (serialized once, response-batch.ts).
      for await (const events of followBatchesForCall(feeds, ctx, chatTopic(req.room), Number(after))) {
        yield subscribeBatch(events.map(subscribeResponseOf));
      }
    },

    /**
     * Reads and writes at once: requests are handled as they arrive (a join, or a message to
     * post), while every message of every joined room flows out, the sender's own included.
     * A bad request ends this stream with its code; other members never notice. When the
     * client half-closes, the stream ends cleanly.
     */
    async *chat(requests, ctx) {
      const out = new AsyncQueue<StoredEvent>(feeds.maxBuffered);
      // Ends the room feeds when this stream ends, however it ends.
      const stop = new AbortController();
      const signal = AbortSignal.any([ctx.signal, stop.signal]);
      const joined = new Set<string>();
      const pumps: Promise<void>[] = [];
      // At half-close the stream ends only once it has carried the sender's own last posts:
      // their events may still be on their way through the bus when the requests end.
      const posted = new Map<string, number>();
      const delivered = new Map<string, number>();
      let onCaughtUp: (() => void) | undefined;
      const caughtUp = () => [...posted].every(([room, seq]) => (delivered.get(room) ?? 0) >= seq);
      const join = async (room: string) => {
        if (joined.has(room)) return;
        joined.add(room);
        // Live from now: the head is read before the join request's own message is posted.
        const after = await gate(() => headSequence(db, chatTopic(room)));
        const feed = followForCall(feeds, ctx, chatTopic(room), after, undefined, signal);
        pumps.push(
          (async () => {
            for await (const event of feed) {
              await out.push(event);
              delivered.set(room, event.sequence);
              if (caughtUp()) onCaughtUp?.();
            }
          })().catch((err: unknown) => out.close(toConnectError(err))),
        );
      };
      const reading = (async () => {
        for await (const req of requests) {
          const invalid = checkMessage(ChatRequestSchema, req);
          if (invalid) throw invalid;
          await join(req.room);
          if (req.content !== "") {
            const message = await post({ ...req, userId: actingUser(ctx, req.userId) }, ctx);
            posted.set(req.room, Number(message.sequence));
          }
        }
        if (!caughtUp()) {
          await new Promise<void>((resolve) => {
            onCaughtUp = resolve;
            signal.addEventListener("abort", () => resolve(), { once: true });
          });
        }
      })().then(
        () => out.close(),
        (err: unknown) => out.close(toConnectError(err)),
      );
      try {
        for await (const event of out) yield { message: decodeChatMessage(event) };
      } finally {
        // Not awaited: a client still sending must not hold up the end of its stream.
        void reading;
        stop.abort();
        out.close();
      }
    },
  };
}
