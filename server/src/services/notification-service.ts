import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { NotificationService } from "../../../gen/switchboard/v1/notification_pb.js";
import { actingUser } from "../auth/principal.ts";
import { inTransaction, withDeadline } from "../db/deadline.ts";
import { appendEvent } from "../stores/event-store.ts";
import { insertNotification } from "../stores/notification-store.ts";
import { getUser } from "../stores/user-store.ts";
import { followForCall, type LiveFeeds } from "./live-feeds.ts";
import { decodeNotification, encodeNotification, notificationTopic } from "./notification-messages.ts";

/** NotificationService: a user's notices, stored and delivered through the events path. */
export function createNotificationService(feeds: LiveFeeds): ServiceImpl<typeof NotificationService> {
  const { db, bus } = feeds;
  return {
    async sendNotification(req, ctx) {
      const { event, notification } = await inTransaction(db, ctx, async (tx) => {
        if (!(await getUser(tx, req.userId))) {
          throw new ConnectError(`user ${req.userId} not found`, Code.NotFound);
        }
        const row = await insertNotification(tx, { userId: req.userId, title: req.title, body: req.body });
        const event = await appendEvent(
          tx,
          notificationTopic(row.userId),
          row.userId,
          encodeNotification(row),
        );
        return { event, notification: row };
      });
      await bus.publish([event]);
      return { notification: { ...decodeNotification(event), id: notification.id } };
    },

    async *subscribeNotifications(req, ctx) {
      // A user subscribes to their own notifications only (the auth interceptor refused any other).
      const userId = actingUser(ctx, req.userId);
      if (!(await withDeadline(db, ctx, (tx) => getUser(tx, userId)))) {
        throw new ConnectError(`user ${userId} not found`, Code.NotFound);
      }
      const feed = followForCall(feeds, ctx, notificationTopic(userId), Number(req.afterSequence));
      for await (const event of feed) yield { notification: decodeNotification(event) };
    },
  };
}
