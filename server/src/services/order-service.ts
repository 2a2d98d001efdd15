import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import {
  ListOrdersResponseSchema,
  OrderEventType,
  type OrderService,
  OrderStatus,
} from "../../../gen/switchboard/v1/order_pb.js";
import { actingUser, isAdmin, ownerFilter, principalOf, visibleOwner } from "../auth/principal.ts";
import { inTransaction, withDeadline } from "../db/deadline.ts";
import type { OrderRow } from "../db/schema.ts";
import { canMove, statusName } from "../order-status.ts";
import { responseBatcher } from "../response-batch.ts";
import { appendEvent, type StoredEvent } from "../stores/event-store.ts";
import { insertNotification } from "../stores/notification-store.ts";
import * as store from "../stores/order-store.ts";
import { getUser } from "../stores/user-store.ts";
import { keysetPages } from "./keyset-pages.ts";
import { followForCall, type LiveFeeds } from "./live-feeds.ts";
import { encodeNotification, notificationTopic } from "./notification-messages.ts";
import { decodeOrderEvent, encodeOrderEvent, orderToMessage } from "./order-messages.ts";

/** Every order change goes to this topic, keyed by the order's user. */
export const ordersTopic = "orders";
const defaultPageSize = 500;

/**
 * OrderService: orders and their life cycle. Each change and its event (and, for a status
 * change, the user's notification) commit in one transaction; the events are published on
 * the bus only after commit, so a stream never reports a change that did not happen.
 */
export function createOrderService(feeds: LiveFeeds): ServiceImpl<typeof OrderService> {
  const { db, bus } = feeds;
  const listBatch = responseBatcher(ListOrdersResponseSchema, { shared: false });

  async function publish(events: StoredEvent[]): Promise<void> {
    await bus.publish(events);
  }

  return {
    async createOrder(req, ctx) {
      const userId = actingUser(ctx, req.userId);
      const result = await inTransaction(db, ctx, async (tx) => {
        const r = await store.createOrder(tx, {
          userId,
          productId: req.productId,
          quantity: req.quantity,
          idempotencyKey: req.idempotencyKey,
          status: OrderStatus.PENDING,
        });
        const events =
          r.kind === "created"
            ? [
                await appendEvent(
                  tx,
                  ordersTopic,
                  r.order.userId,
                  encodeOrderEvent(OrderEventType.CREATED, r.order),
                ),
              ]
            : [];
        return { ...r, events };
      });
      switch (result.kind) {
        case "user_not_found":
          // NOT_FOUND, not FAILED_PRECONDITION: the request names a user that does not exist,
          // and retrying cannot help until it does (AIP-193: a missing referenced resource).
          throw new ConnectError(`user ${userId} not found`, Code.NotFound);
        case "key_reused":
          throw new ConnectError(
            `idempotency_key "${req.idempotencyKey}" was already used for order ${result.order.id} with other values`,
            Code.FailedPrecondition,
          );
        case "created":
          await publish(result.events);
          return { order: orderToMessage(result.order) };
        case "replayed":
          return { order: orderToMessage(result.order) };
      }
    },

    async getOrder(req, ctx) {
      // Another user's order reads as absent: NOT_FOUND, so ids do not reveal what exists.
      const row = await withDeadline(db, ctx, (tx) => store.getOrder(tx, req.id, visibleOwner(ctx)));
      if (!row) throw notFound(req.id);
      return { order: orderToMessage(row) };
    },

    async *listOrders(req, ctx) {
      const limit = req.pageSize > 0 ? req.pageSize : defaultPageSize;
      const status = req.status === OrderStatus.UNSPECIFIED ? undefined : req.status;
      const userId = ownerFilter(ctx, req.userId);
      const pages = (after: string | undefined) =>
        withDeadline(db, ctx, (tx) => store.listOrdersPage(tx, { userId, status, after, limit }));
      // A page goes out as one write (response-batch.ts): per message, only encoding is left.
      for await (const page of keysetPages(pages, limit, req.after)) {
        yield listBatch(page.map((row) => create(ListOrdersResponseSchema, { order: orderToMessage(row) })));
      }
    },

    async updateOrderStatus(req, ctx) {
      // A customer pays for or cancels their own order; fulfilment moves are an admin's.
      if (!isAdmin(principalOf(ctx)) && !customerMoves.has(req.status)) {
        throw new ConnectError(
          `only an admin may mark an order ${statusName(req.status)}`,
          Code.PermissionDenied,
        );
      }
      const owner = visibleOwner(ctx);
      const { order, events } = await inTransaction(db, ctx, async (tx) => {
        const current = await store.lockOrder(tx, req.id, owner);
        if (!current) throw notFound(req.id);
        checkMove(current, req.status, req.expectedVersion);
        const order = await store.setOrderStatus(tx, req.id, req.status);
        const notification = await insertNotification(tx, {
          userId: order.userId,
          title: `Order ${statusName(order.status).toLowerCase()}`,
          body: `Your order of ${order.quantity} × ${order.productId} is now ${statusName(order.status)}.`,
        });
        // Topic heads are always locked orders first, then the user's notifications, so two
        // writers can never wait on each other in a cycle.
        const events = [
          await appendEvent(
            tx,
            ordersTopic,
            order.userId,
            encodeOrderEvent(OrderEventType.STATUS_CHANGED, order),
          ),
          await appendEvent(
            tx,
            notificationTopic(order.userId),
            order.userId,
            encodeNotification(notification),
          ),
        ];
        return { order, events };
      });
      await publish(events);
      return { order: orderToMessage(order) };
    },

    async *streamOrders(req, ctx: HandlerContext) {
      // A user follows their own orders only; an admin all, or one user's.
      const userId = ownerFilter(ctx, req.userId);
      if (userId !== undefined && !(await withDeadline(db, ctx, (tx) => getUser(tx, userId)))) {
        throw new ConnectError(`user ${userId} not found`, Code.NotFound);
      }
      for await (const event of followForCall(feeds, ctx, ordersTopic, Number(req.afterSequence), userId)) {
        yield { event: decodeOrderEvent(event) };
      }
    },
  };
}

/** The moves a customer may make on their own order. */
const customerMoves = new Set([OrderStatus.PAID, OrderStatus.CANCELLED]);

function checkMove(current: OrderRow, to: OrderStatus, expectedVersion: bigint | undefined): void {
  if (expectedVersion !== undefined && BigInt(current.version) !== expectedVersion) {
    throw new ConnectError(
      `order ${current.id} is at version ${current.version}, not the expected ${expectedVersion}`,
      Code.Aborted,
    );
  }
  if (!canMove(current.status, to)) {
    throw new ConnectError(
      `order ${current.id} cannot move from ${statusName(current.status)} to ${statusName(to)}`,
      Code.FailedPrecondition,
    );
  }
}

function notFound(id: string): ConnectError {
  return new ConnectError(`order ${id} not found`, Code.NotFound);
}
