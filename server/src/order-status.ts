import { OrderStatus } from "../../gen/switchboard/v1/order_pb.js";

/** The order life cycle (design §3): each status and the statuses it may move to. */
const moves: ReadonlyMap<OrderStatus, readonly OrderStatus[]> = new Map([
  [OrderStatus.PENDING, [OrderStatus.PAID, OrderStatus.CANCELLED]],
  [OrderStatus.PAID, [OrderStatus.SHIPPED, OrderStatus.CANCELLED]],
  [OrderStatus.SHIPPED, [OrderStatus.DELIVERED]],
  [OrderStatus.DELIVERED, []],
  [OrderStatus.CANCELLED, []],
]);

export function canMove(from: OrderStatus, to: OrderStatus): boolean {
  return moves.get(from)?.includes(to) ?? false;
}

/** The statuses an order in `from` may move to next (what a UI offers). */
export function nextStatuses(from: OrderStatus): readonly OrderStatus[] {
  return moves.get(from) ?? [];
}

/** "SHIPPED" for OrderStatus.SHIPPED: for messages people read. */
export function statusName(status: OrderStatus): string {
  return OrderStatus[status] ?? String(status);
}
