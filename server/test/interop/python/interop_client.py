#!/usr/bin/python3
"""Python grpcio client for the Switchboard interop matrix.

Usage: SWITCHBOARD_TOKEN=<admin token> interop_client.py HOST:PORT DESCRIPTOR_SET TAG

Message classes are built at run time from the descriptor set (gen/switchboard.binpb) with
descriptor_pool + message_factory, and the calls go through grpcio's generic stubs
(channel.unary_unary, unary_stream, stream_unary, stream_stream); nothing is generated
(grpc_support.py). Every call carries SWITCHBOARD_TOKEN as "authorization: Bearer <token>"
metadata, except where a case calls as a signed-in user or as no one (health needs no token).
The OrderService and NotificationService cases are in order_cases.py, the ChatService ones in
chat_cases.py, AuthService and the access cases in auth_cases.py.
TAG makes the emails of this run unique. Prints one JSON object: case name -> outcome, where an
outcome is {"ok": true, ...} or {"ok": false, "code": "NOT_FOUND", "details": "..."}
(code CLIENT_ERROR when the script itself failed).
"""

import json
import os
import sys

import grpc
from google.protobuf import json_format

import auth_cases
import chat_cases
import order_cases
from grpc_support import UNKNOWN_ID, Client, as_dict, load_schema, outcome

USERS = "switchboard.v1.UserService/"


def unary(c, tag):
    create = c.method("unary_unary", USERS + "CreateUser", "switchboard.v1.CreateUserRequest",
                      "switchboard.v1.CreateUserResponse")
    get = c.method("unary_unary", USERS + "GetUser", "switchboard.v1.GetUserRequest",
                   "switchboard.v1.GetUserResponse")
    created = create(c.message("switchboard.v1.CreateUserRequest",
                               name="Guido", email=f"guido@{tag}.example", age=67), timeout=10)
    got = get(c.message("switchboard.v1.GetUserRequest", id=created.user.id), timeout=10)
    try:
        get(c.message("switchboard.v1.GetUserRequest", id=UNKNOWN_ID), timeout=10)
        missing = "OK"
    except grpc.RpcError as e:
        missing = e.code().name
    # UpdateUser with a field mask, then DeleteUser: the user is gone.
    updated = c.call(USERS + "UpdateUser", user={"id": created.user.id, "name": "Guido v. R."},
                     update_mask="name").user
    deleted = c.call(USERS + "DeleteUser", id=created.user.id)
    try:
        get(c.message("switchboard.v1.GetUserRequest", id=created.user.id), timeout=10)
        gone = "OK"
    except grpc.RpcError as e:
        gone = e.code().name
    return {"created": as_dict(created.user), "got": as_dict(got.user), "missing": missing,
            "updated": as_dict(updated), "deleted": as_dict(deleted), "gone": gone}


def server_stream(c, tag):
    create = c.method("unary_unary", USERS + "CreateUser", "switchboard.v1.CreateUserRequest",
                      "switchboard.v1.CreateUserResponse")
    for i in range(3):
        create(c.message("switchboard.v1.CreateUserRequest",
                         name=f"L{i}", email=f"list-{i}@{tag}-list.example", age=20 + i), timeout=10)
    list_users = c.method("unary_stream", USERS + "ListUsers", "switchboard.v1.ListUsersRequest",
                          "switchboard.v1.ListUsersResponse")
    responses = list_users(c.message("switchboard.v1.ListUsersRequest",
                                     query=f"@{tag}-list.example", page_size=2), timeout=10)
    return {"emails": [r.user.email for r in responses]}


def client_stream(c, tag):
    batch = c.method("stream_unary", USERS + "BatchCreateUsers", "switchboard.v1.BatchCreateUsersRequest",
                     "switchboard.v1.BatchCreateUsersResponse")
    items = [
        dict(name="P0", email=f"p0@{tag}.example", age=30),
        dict(name="", email=f"p1@{tag}.example", age=31),
        dict(name="P2", email=f"p2@{tag}.example", age=32),
    ]
    report = batch(iter(c.message("switchboard.v1.BatchCreateUsersRequest", **i) for i in items),
                   timeout=10)
    return {"report": as_dict(report)}


def bidi(c, tag):
    stream = c.method("stream_stream", USERS + "UserStream", "switchboard.v1.UserStreamRequest",
                      "switchboard.v1.UserStreamResponse")
    requests = [
        {"request_id": "a", "create": {"name": "Bidi", "email": f"bidi@{tag}.example", "age": 40}},
        {"request_id": "b", "get": {"id": UNKNOWN_ID}},
        {"request_id": "c", "create": {"name": "Bidi", "email": f"bidi@{tag}.example", "age": 40}},
    ]
    answers = stream(iter(c.message("switchboard.v1.UserStreamRequest", **r) for r in requests),
                     timeout=10)
    return {"answers": [as_dict(a) for a in answers]}


def error_details(c, tag):
    create = c.method("unary_unary", USERS + "CreateUser", "switchboard.v1.CreateUserRequest",
                      "switchboard.v1.CreateUserResponse")
    try:
        create(c.message("switchboard.v1.CreateUserRequest",
                         name="Bad", email="nope", age=30), timeout=10)
    except grpc.RpcError as e:
        trailers = dict(e.trailing_metadata() or ())
        status = c.m["google.rpc.Status"].FromString(trailers["grpc-status-details-bin"])
        details = []
        for any_detail in status.details:
            type_name = any_detail.type_url.split("/")[-1]
            detail = c.m[type_name]()
            any_detail.Unpack(detail)
            details.append({"type": type_name, "value": as_dict(detail)})
        return {"code": e.code().name, "details_text": e.details(),
                "status": {"code": status.code, "message": status.message}, "status_details": details}
    raise AssertionError("CreateUser with a bad email succeeded")


def oversize(c, tag):
    """5 MiB against the default 4 MiB: answered, then RST_STREAM(NO_ERROR) ends the upload."""
    create = c.method("unary_unary", USERS + "CreateUser", "switchboard.v1.CreateUserRequest",
                      "switchboard.v1.CreateUserResponse")
    try:
        create(c.message("switchboard.v1.CreateUserRequest",
                         name="n" * (5 << 20), email="big-%s@x.example" % tag, age=30), timeout=10)
    except grpc.RpcError as e:
        return {"code": e.code().name, "details": e.details()}
    raise AssertionError("CreateUser of 5 MiB succeeded")


def unknown_method(c, tag):
    nope = c.method("unary_unary", USERS + "Nope", "switchboard.v1.GetUserRequest",
                    "switchboard.v1.GetUserResponse")
    nope(c.message("switchboard.v1.GetUserRequest", id=UNKNOWN_ID), timeout=10)
    return {}


def health(c, tag):
    """Health answers without a token."""
    check = c.as_token(None).method("unary_unary", "grpc.health.v1.Health/Check", "grpc.health.v1.HealthCheckRequest",
                     "grpc.health.v1.HealthCheckResponse")
    status = {}
    for service in ["", "switchboard.v1.UserService", "switchboard.v1.OrderService",
                    "switchboard.v1.NotificationService"]:
        response = check(c.message("grpc.health.v1.HealthCheckRequest", service=service), timeout=10)
        status[service or "(server)"] = json_format.MessageToDict(response)["status"]
    return {"status": status}


def main():
    address, descriptor_set, tag = sys.argv[1:4]
    schema = load_schema(descriptor_set)
    # A second channel is the other client, which changes things while a live stream is open.
    with grpc.insecure_channel(address) as channel, grpc.insecure_channel(address) as other_channel:
        grpc.channel_ready_future(channel).result(timeout=10)
        token = os.environ["SWITCHBOARD_TOKEN"]
        c = Client(channel, schema, token)
        other = Client(other_channel, schema, token)
        cases = [unary, server_stream, client_stream, bidi, error_details, oversize, unknown_method, health]
        outcomes = {case.__name__: outcome(lambda: case(c, tag)) for case in cases}
        for name, case in {**order_cases.CASES, **chat_cases.CASES, **auth_cases.CASES}.items():
            outcomes[name] = outcome(lambda: case(c, other, tag))
        print(json.dumps(outcomes))


if __name__ == "__main__":
    main()
