"""The OrderService and NotificationService cases, as Python grpcio runs them.

The steps are those of order-cases.ts, and each case returns the outcome it describes there
(snake_case keys; the test converts them), so the same assertions judge every client. Live
streams (StreamOrders, SubscribeNotifications) never end by themselves: a case reads the
messages that must come, cancels the call and checks that it ended CANCELLED.
"""

import time

import grpc

from grpc_support import UNKNOWN_ID, as_dict, code_name, failure, read_live

ORDERS = "switchboard.v1.OrderService/"
NOTIFICATIONS = "switchboard.v1.NotificationService/"
ITEM = {"product_id": "sku-42", "quantity": 2}


def new_user(c, email):
    return c.call("switchboard.v1.UserService/CreateUser", name="Orderer", email=email, age=30).user.id


def create_order(c, user_id, key, quantity=ITEM["quantity"]):
    return as_dict(c.call(ORDERS + "CreateOrder", user_id=user_id, product_id=ITEM["product_id"],
                          quantity=quantity, idempotency_key=key).order)


def set_status(c, order_id, status, expected_version=None):
    extra = {"expected_version": expected_version} if expected_version else {}
    return as_dict(c.call(ORDERS + "UpdateOrderStatus", id=order_id,
                          status=f"ORDER_STATUS_{status}", **extra).order)


def get_order(c, order_id):
    return as_dict(c.call(ORDERS + "GetOrder", id=order_id).order)


def list_orders(c, **request):
    return [as_dict(r.order) for r in c.call(ORDERS + "ListOrders", **request)]


def send_notification(c, user_id, title, body):
    return as_dict(c.call(NOTIFICATIONS + "SendNotification", user_id=user_id, title=title,
                          body=body).notification)


def stream_orders(c, take, on_message=None, **request):
    return [m["event"] for m in read_live(c, ORDERS + "StreamOrders", take, on_message, **request)]


def subscribe(c, take, on_message=None, **request):
    return [m["notification"] for m in
            read_live(c, NOTIFICATIONS + "SubscribeNotifications", take, on_message, **request)]


def create_order_case(c, other, tag):
    user_id = new_user(c, f"create-order@{tag}.example")
    first = create_order(c, user_id, "key-1")
    again = create_order(c, user_id, "key-1")
    key_reused = failure(lambda: create_order(c, user_id, "key-1", ITEM["quantity"] + 1))
    unknown_user = failure(lambda: create_order(c, UNKNOWN_ID, "key-1"))
    return {"user_id": user_id, "first": first, "again": again, "key_reused": key_reused,
            "unknown_user": unknown_user}


def get_order_case(c, other, tag):
    user_id = new_user(c, f"get-order@{tag}.example")
    created = create_order(c, user_id, "key-1")
    got = get_order(c, created["id"])
    missing = failure(lambda: get_order(c, UNKNOWN_ID))
    return {"created": created, "got": got, "missing": missing}


def list_orders_case(c, other, tag):
    user_id = new_user(c, f"list-orders@{tag}.example")
    first, second, third = (create_order(c, user_id, k) for k in ["key-1", "key-2", "key-3"])
    orders = [first, set_status(c, second["id"], "PAID"), third]
    return {
        "orders": orders,
        "all": list_orders(c, user_id=user_id, page_size=2),
        "paid": list_orders(c, user_id=user_id, status="ORDER_STATUS_PAID"),
        "after_first": list_orders(c, user_id=user_id, after=first["id"]),
    }


def update_order_status_case(c, other, tag):
    user_id = new_user(c, f"update-order@{tag}.example")
    created = create_order(c, user_id, "key-1")
    paid = set_status(c, created["id"], "PAID")
    illegal = failure(lambda: set_status(c, created["id"], "DELIVERED"))
    stale = failure(lambda: set_status(c, created["id"], "SHIPPED", created["version"]))
    after = get_order(c, created["id"])
    return {"created": created, "paid": paid, "illegal": illegal, "stale": stale, "after": after}


def stream_orders_case(c, other, tag):
    user_id = new_user(c, f"stream-orders@{tag}.example")
    created = create_order(c, user_id, "key-1")
    paid = set_status(c, created["id"], "PAID")
    live = {}

    def place_order(i):
        # Both stored events are in: the other client places an order while the stream is open.
        if i == 1:
            live.update(create_order(other, user_id, "key-2"))

    events = stream_orders(c, 3, place_order, user_id=user_id, after_sequence="0")
    resumed = stream_orders(c, 1, user_id=user_id, after_sequence=events[1]["sequence"])
    return {"user_id": user_id, "created": created, "paid": paid, "live": live,
            "events": events, "resumed": resumed}


def send_notification_case(c, other, tag):
    user_id = new_user(c, f"send-notification@{tag}.example")
    first = send_notification(c, user_id, "Hello", "First notice")
    second = send_notification(c, user_id, "Again", "Second notice")
    unknown_user = failure(lambda: send_notification(c, UNKNOWN_ID, "Hello", "Nobody"))
    return {"user_id": user_id, "first": first, "second": second, "unknown_user": unknown_user}


def subscribe_notifications_case(c, other, tag):
    user_id = new_user(c, f"subscribe@{tag}.example")
    sent = send_notification(c, user_id, "Welcome", "Subscribed")
    order = create_order(c, user_id, "key-1")

    def pay(i):
        # The stored notice is in: the other client pays the order, which notifies its user.
        if i == 0:
            set_status(other, order["id"], "PAID")

    notices = subscribe(c, 2, pay, user_id=user_id, after_sequence="0")
    resumed = subscribe(c, 1, user_id=user_id, after_sequence=notices[0]["sequence"])
    return {"user_id": user_id, "order": order, "sent": sent, "notices": notices,
            "resumed": resumed}


def live_cancel_case(c, other, tag):
    """Cancels a live StreamOrders after its first event; an order placed while nobody listens
    is there when the client resumes from that event's sequence."""
    user_id = new_user(c, f"live-cancel@{tag}.example")
    order = create_order(c, user_id, "key-1")
    call = c.call(ORDERS + "StreamOrders", user_id=user_id)
    first = as_dict(next(call))["event"]
    call.cancel()
    code = code_name(call.code())
    later = create_order(other, user_id, "key-2")
    resumed = stream_orders(c, 1, user_id=user_id, after_sequence=first["sequence"])
    return {"order_id": order["id"], "first": first, "code": code, "later": later,
            "resumed": resumed}


def live_deadline_case(c, other, tag):
    """A live StreamOrders with a 0.5 s deadline: the replay, then DEADLINE_EXCEEDED."""
    user_id = new_user(c, f"live-deadline@{tag}.example")
    order = create_order(c, user_id, "key-1")
    seen = []
    started = time.monotonic()
    try:
        for response in c.call(ORDERS + "StreamOrders", timeout=0.5, user_id=user_id):
            seen.append(response.event.order.id)
        code = "ok"
    except grpc.RpcError as e:
        code = code_name(e.code())
    return {"order_id": order["id"], "seen": seen, "code": code,
            "elapsed_ms": round((time.monotonic() - started) * 1000)}


# Keyed as the matrix columns (the RPC names), then the feature cases.
CASES = {
    "CreateOrder": create_order_case,
    "GetOrder": get_order_case,
    "ListOrders": list_orders_case,
    "UpdateOrderStatus": update_order_status_case,
    "StreamOrders": stream_orders_case,
    "SendNotification": send_notification_case,
    "SubscribeNotifications": subscribe_notifications_case,
    "live_cancel": live_cancel_case,
    "live_deadline": live_deadline_case,
}
