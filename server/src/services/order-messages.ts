import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  type Order,
  type OrderEvent,
  OrderEventSchema,
  type OrderEventType,
  OrderSchema,
} from "../../../gen/switchboard/v1/order_pb.js";
import type { OrderRow } from "../db/schema.ts";
import type { StoredEvent } from "../stores/event-store.ts";
import { decodedOnce } from "./decoded-once.ts";

export function orderToMessage(row: OrderRow): Order {
  return create(OrderSchema, {
    id: row.id,
    userId: row.userId,
    productId: row.productId,
    quantity: row.quantity,
    status: row.status,
    idempotencyKey: row.idempotencyKey,
    createTime: timestampFromDate(row.createTime),
    updateTime: timestampFromDate(row.updateTime),
    version: BigInt(row.version),
  });
}

/** The stored form of an order event: its message without the sequence, which the table holds. */
export function encodeOrderEvent(type: OrderEventType, order: OrderRow): Uint8Array {
  return toBinary(OrderEventSchema, create(OrderEventSchema, { type, order: orderToMessage(order) }));
}

/** The wire message of a stored event, decoded once per event (decoded-once.ts): do not change it. */
export const decodeOrderEvent = decodedOnce((event: StoredEvent): OrderEvent => {
  const message = fromBinary(OrderEventSchema, event.payload);
  message.sequence = BigInt(event.sequence);
  return message;
});
