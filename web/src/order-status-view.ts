import { OrderStatus } from "../../gen/switchboard/v1/order_pb.js";

// The life cycle itself (which moves are legal) is the server's table, shared as is:
// server/src/order-status.ts. This file only says how statuses look and read.
export { nextStatuses } from "../../server/src/order-status.ts";

/** Statuses in life-cycle order, for charts and filters. */
export const statusOrder: readonly OrderStatus[] = [
  OrderStatus.PENDING,
  OrderStatus.PAID,
  OrderStatus.SHIPPED,
  OrderStatus.DELIVERED,
  OrderStatus.CANCELLED,
];

const labels: Partial<Record<OrderStatus, string>> = {
  [OrderStatus.PENDING]: "Pending",
  [OrderStatus.PAID]: "Paid",
  [OrderStatus.SHIPPED]: "Shipped",
  [OrderStatus.DELIVERED]: "Delivered",
  [OrderStatus.CANCELLED]: "Cancelled",
};

/** What the button that moves an order into a status says. */
const moveLabels: Partial<Record<OrderStatus, string>> = {
  [OrderStatus.PAID]: "Mark paid",
  [OrderStatus.SHIPPED]: "Ship",
  [OrderStatus.DELIVERED]: "Mark delivered",
  [OrderStatus.CANCELLED]: "Cancel",
};

export function statusLabel(status: OrderStatus): string {
  return labels[status] ?? "Unknown";
}

export function moveLabel(status: OrderStatus): string {
  return moveLabels[status] ?? statusLabel(status);
}

/** The CSS modifier of a status badge: "pending", "paid", … */
export function statusClass(status: OrderStatus): string {
  return (OrderStatus[status] ?? "unspecified").toLowerCase();
}
