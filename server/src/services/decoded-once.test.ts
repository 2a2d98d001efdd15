import assert from "node:assert/strict";
import { test } from "node:test";
import type { StoredEvent } from "../stores/event-store.ts";
import { decodeChatMessage, encodeChatMessage } from "./chat-messages.ts";

test("one live event is decoded once, however many streams carry it", () => {
  const event = {
    topic: "chat:r",
    sequence: 7,
    key: "u",
    payload: encodeChatMessage({
      id: "m1",
      room: "r",
      userId: "u",
      userName: "Ada",
      content: "hi",
      createTime: new Date(0),
    }),
  } as unknown as StoredEvent;
  const a = decodeChatMessage(event);
  const b = decodeChatMessage(event);
  assert.equal(a, b, "the same message object for every subscriber");
  assert.equal(a.sequence, 7n);
  assert.equal(a.userName, "Ada");
  const other = { ...event } as StoredEvent;
  assert.notEqual(decodeChatMessage(other), a, "another event object (a replay from the table) decodes anew");
  assert.deepEqual(decodeChatMessage(other), a);
});
