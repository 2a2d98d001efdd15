"""AuthService and the access cases, as Python grpcio runs them.

The steps are those of auth-cases.ts, and each case returns the outcome it describes there
(snake_case keys; the test converts them), so the same assertions judge every client. `c` calls
as the admin token; c.as_token(token) is the same channel calling as a signed-in user, and
c.as_token(None) calls with no Authorization metadata at all.
"""

from grpc_support import UNKNOWN_ID, as_dict, failure

AUTH = "switchboard.v1.AuthService/"
USERS = "switchboard.v1.UserService/"
ORDERS = "switchboard.v1.OrderService/"


def new_user(c, email, password):
    return as_dict(c.call(USERS + "CreateUser", name="Signer", email=email, age=30,
                          password=password).user)


def sign_in(c, email, password):
    return as_dict(c.as_token(None).call(AUTH + "SignIn", email=email, password=password))


def get_session(c):
    return as_dict(c.call(AUTH + "GetSession"))


def create_order(c, **request):
    return as_dict(c.call(ORDERS + "CreateOrder", product_id="sku-42", quantity=1, **request).order)


def get_order(c, order_id):
    return as_dict(c.call(ORDERS + "GetOrder", id=order_id).order)


def sign_in_case(c, other, tag):
    email = f"sign-in@{tag}.example"
    created = new_user(c, email, "first-password")
    signed_in = sign_in(c, email, "first-password")
    me = as_dict(c.as_token(signed_in["token"]).call(USERS + "GetUser", id=created["id"]).user)
    wrong_password = failure(lambda: sign_in(c, email, "wrong-password"))
    unknown_email = failure(lambda: sign_in(c, f"nobody@{tag}.example", "first-password"))
    return {"created": created, "signed_in": signed_in, "me": me,
            "wrong_password": wrong_password, "unknown_email": unknown_email}


def get_session_case(c, other, tag):
    email = f"session@{tag}.example"
    user_id = new_user(c, email, "session-password")["id"]
    signed_in = sign_in(c, email, "session-password")
    mine = get_session(c.as_token(signed_in["token"]))
    admin = get_session(c)
    return {"user_id": user_id, "signed_in": signed_in, "mine": mine, "admin": admin}


def set_password_case(c, other, tag):
    email = f"set-password@{tag}.example"
    user_id = new_user(c, email, "old-password")["id"]
    user = c.as_token(sign_in(c, email, "old-password")["token"])
    changed = as_dict(user.call(AUTH + "SetPassword", current_password="old-password",
                                new_password="new-password"))
    # The token that made the change ended with the others; the answer carries a new one.
    old_session = failure(lambda: get_session(user))
    renewed = c.as_token(changed["token"])
    new_session = get_session(renewed)
    old_password = failure(lambda: sign_in(c, email, "old-password"))
    with_new = sign_in(c, email, "new-password")
    wrong_current = failure(lambda: renewed.call(AUTH + "SetPassword", current_password="old-password",
                                                 new_password="third-password"))
    by_admin = as_dict(c.call(AUTH + "SetPassword", user_id=user_id, new_password="admin-set-password"))
    after_admin = failure(lambda: get_session(c.as_token(with_new["token"])))
    with_admin_set = sign_in(c, email, "admin-set-password")
    return {"user_id": user_id, "changed": changed, "old_session": old_session,
            "new_session": new_session, "old_password": old_password, "with_new": with_new,
            "wrong_current": wrong_current, "by_admin": by_admin, "after_admin": after_admin,
            "with_admin_set": with_admin_set}


def no_token_case(c, other, tag):
    missing = failure(lambda: c.as_token(None).call(USERS + "GetUser", id=UNKNOWN_ID))
    forged = failure(lambda: c.as_token("not-a-token-this-server-issued").call(USERS + "GetUser",
                                                                             id=UNKNOWN_ID))
    health = as_dict(c.as_token(None).call("grpc.health.v1.Health/Check", service=""))
    return {"missing": missing, "forged": forged, "health": health}


def other_order_case(c, other, tag):
    email = f"owner@{tag}.example"
    user_id = new_user(c, email, "owner-password")["id"]
    other_user = new_user(c, f"other-owner@{tag}.example", "other-password")
    theirs = create_order(c, user_id=other_user["id"], idempotency_key="theirs")
    user = c.as_token(sign_in(c, email, "owner-password")["token"])
    own = create_order(user, idempotency_key="own")
    own_got = get_order(user, own["id"])
    others_get = failure(lambda: get_order(user, theirs["id"]))
    others_update = failure(lambda: user.call(ORDERS + "UpdateOrderStatus", id=theirs["id"],
                                              status="ORDER_STATUS_CANCELLED"))
    admin_got = get_order(c, theirs["id"])
    return {"user_id": user_id, "theirs": theirs, "own": own, "own_got": own_got,
            "others_get": others_get, "others_update": others_update, "admin_got": admin_got}


# Keyed as the cases of auth-cases.ts.
CASES = {
    "SignIn": sign_in_case,
    "GetSession": get_session_case,
    "SetPassword": set_password_case,
    "NoToken": no_token_case,
    "OtherOrder": other_order_case,
}
