import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type Notification, NotificationSchema } from "../../../gen/switchboard/v1/notification_pb.js";
import type { NotificationRow } from "../db/schema.ts";
import type { StoredEvent } from "../stores/event-store.ts";
import { decodedOnce } from "./decoded-once.ts";

/** The events topic of one user's notifications. */
export function notificationTopic(userId: string): string {
  return `notifications:${userId}`;
}

export function encodeNotification(row: NotificationRow): Uint8Array {
  return toBinary(
    NotificationSchema,
    create(NotificationSchema, {
      id: row.id,
      userId: row.userId,
      title: row.title,
      body: row.body,
      createTime: timestampFromDate(row.createTime),
    }),
  );
}

/** The wire message of a stored event, decoded once per event (decoded-once.ts): do not change it. */
export const decodeNotification = decodedOnce((event: StoredEvent): Notification => {
  const message = fromBinary(NotificationSchema, event.payload);
  message.sequence = BigInt(event.sequence);
  return message;
});
