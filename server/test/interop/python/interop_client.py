#!/usr/bin/python3
"""Python grpcio client for the Switchboard interop matrix.

Usage: interop_client.py HOST:PORT DESCRIPTOR_SET TAG

Message classes are built at run time from the descriptor set (gen/switchboard.binpb) with
descriptor_pool + message_factory, and the calls go through grpcio's generic stubs
(channel.unary_unary, unary_stream, stream_unary, stream_stream); nothing is generated.
TAG makes the emails of this run unique. Prints one JSON object: case name -> outcome, where an
outcome is {"ok": true, ...} or {"ok": false, "code": "NOT_FOUND", "details": "..."}
(code CLIENT_ERROR when the script itself failed).
"""

import json
import sys

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

USERS = "switchboard.v1.UserService/"
UNKNOWN_ID = "01890000-0000-7000-8000-000000000000"


def load_messages(path):
    """Message classes by full name, from a FileDescriptorSet (files in dependency order)."""
    with open(path, "rb") as f:
        fds = descriptor_pb2.FileDescriptorSet.FromString(f.read())
    pool = descriptor_pool.DescriptorPool()
    for file in fds.file:
        pool.AddSerializedFile(file.SerializeToString())
    names = [
        f"{file.package}.{message.name}" for file in fds.file for message in file.message_type
    ]
    if hasattr(message_factory, "GetMessageClass"):  # protobuf >= 4.22
        return {n: message_factory.GetMessageClass(pool.FindMessageTypeByName(n)) for n in names}
    factory = message_factory.MessageFactory(pool)
    return {n: factory.GetPrototype(pool.FindMessageTypeByName(n)) for n in names}


class Client:
    def __init__(self, channel, messages):
        self.channel = channel
        self.m = messages

    def method(self, kind, path, request, response):
        """A callable for one RPC: kind is unary_unary, unary_stream, stream_unary or stream_stream."""
        factory = getattr(self.channel, kind)
        return factory(
            "/" + path,
            request_serializer=self.m[request].SerializeToString,
            response_deserializer=self.m[response].FromString,
        )

    def message(self, type_name, /, **fields):
        return json_format.ParseDict(fields, self.m[type_name]())


def as_dict(msg):
    return json_format.MessageToDict(msg, preserving_proto_field_name=True)


def outcome(fn):
    try:
        return {"ok": True, **fn()}
    except grpc.RpcError as e:
        return {"ok": False, "code": e.code().name, "details": e.details()}
    except Exception as e:  # a broken case must not hide the others
        return {"ok": False, "code": "CLIENT_ERROR", "details": repr(e)}


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
    return {"created": as_dict(created.user), "got": as_dict(got.user), "missing": missing}


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


def unknown_method(c, tag):
    nope = c.method("unary_unary", USERS + "Nope", "switchboard.v1.GetUserRequest",
                    "switchboard.v1.GetUserResponse")
    nope(c.message("switchboard.v1.GetUserRequest", id=UNKNOWN_ID), timeout=10)
    return {}


def health(c, tag):
    check = c.method("unary_unary", "grpc.health.v1.Health/Check", "grpc.health.v1.HealthCheckRequest",
                     "grpc.health.v1.HealthCheckResponse")
    status = {}
    for service in ["", "switchboard.v1.UserService"]:
        response = check(c.message("grpc.health.v1.HealthCheckRequest", service=service), timeout=10)
        status[service or "(server)"] = json_format.MessageToDict(response)["status"]
    return {"status": status}


def main():
    address, descriptor_set, tag = sys.argv[1:4]
    messages = load_messages(descriptor_set)
    with grpc.insecure_channel(address) as channel:
        grpc.channel_ready_future(channel).result(timeout=10)
        c = Client(channel, messages)
        cases = [unary, server_stream, client_stream, bidi, error_details, unknown_method, health]
        print(json.dumps({case.__name__: outcome(lambda: case(c, tag)) for case in cases}))


if __name__ == "__main__":
    main()
