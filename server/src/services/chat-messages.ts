import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  type ChatMessage,
  ChatMessageSchema,
  type SubscribeResponse,
  SubscribeResponseSchema,
} from "../../../gen/switchboard/v1/chat_pb.js";
import type { StoredEvent } from "../stores/event-store.ts";
import { decodedOnce } from "./decoded-once.ts";

/** The events topic of one chat room. */
export function chatTopic(room: string): string {
  return `chat:${room}`;
}

export interface NewChatMessage {
  id: string;
  room: string;
  userId: string;
  userName: string;
  content: string;
  createTime: Date;
}

/** The stored form of a message: its wire message without the sequence, which the table holds. */
export function encodeChatMessage(m: NewChatMessage): Uint8Array {
  return toBinary(
    ChatMessageSchema,
    create(ChatMessageSchema, {
      id: m.id,
      room: m.room,
      userId: m.userId,
      userName: m.userName,
      content: m.content,
      createTime: timestampFromDate(m.createTime),
    }),
  );
}

/** The wire message of a stored event, decoded once per event (decoded-once.ts): do not change it. */
export const decodeChatMessage = decodedOnce((event: StoredEvent): ChatMessage => {
  const message = fromBinary(ChatMessageSchema, event.payload);
  message.sequence = BigInt(event.sequence);
  return message;
});

/** Subscribe's response for a stored event, made once per event like the message it carries. */
export const subscribeResponseOf = decodedOnce(
  (event: StoredEvent): SubscribeResponse =>
    create(SubscribeResponseSchema, { message: decodeChatMessage(event) }),
);
