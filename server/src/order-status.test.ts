import assert from "node:assert/strict";
import { test } from "node:test";
import { OrderStatus } from "../../gen/switchboard/v1/order_pb.js";
import { canMove, nextStatuses, statusName } from "./order-status.ts";

test("the life cycle allows exactly the moves of the design", () => {
  const { PENDING, PAID, SHIPPED, DELIVERED, CANCELLED, UNSPECIFIED } = OrderStatus;
  const legal = new Set([
    `${PENDING}>${PAID}`,
    `${PAID}>${SHIPPED}`,
    `${SHIPPED}>${DELIVERED}`,
    `${PENDING}>${CANCELLED}`,
    `${PAID}>${CANCELLED}`,
  ]);
  const all = [UNSPECIFIED, PENDING, PAID, SHIPPED, DELIVERED, CANCELLED];
  for (const from of all) {
    for (const to of all) assert.equal(canMove(from, to), legal.has(`${from}>${to}`), `${from} -> ${to}`);
  }
  assert.deepEqual(nextStatuses(DELIVERED), []);
  assert.equal(statusName(SHIPPED), "SHIPPED");
});
