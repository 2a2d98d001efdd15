#!/usr/bin/python3
"""A Python grpcio member of a chat room, for the cross-instance chat test.

Usage: SWITCHBOARD_TOKEN=<bearer token> chat_client.py HOST:PORT DESCRIPTOR_SET ROOM USER_ID EXPECT [CONTENT ...]

Opens one ChatService/Chat bidi stream and joins ROOM (a request with empty content). Then it
waits for a line "send" on stdin (the test sends it once every member of the room is
subscribed, on both instances), posts each CONTENT in order on the same stream, and keeps
reading until EXPECT messages have arrived. Then it half-closes and reads the stream to its
end, so a message delivered twice would still be seen. Each message received is printed as
one JSON line {"message": {...}} (proto field names, int64 as a string) as it arrives; the
last line is {"done": true, "received": n} or {"error": {"code": ..., "details": ...}}.

Message classes are built at run time from the descriptor set (gen/switchboard.binpb), and the
call goes through grpcio's generic stream_stream stub; nothing is generated. The call carries
SWITCHBOARD_TOKEN as "authorization: Bearer <token>" metadata (USER_ID must be that token's user,
or any user for an admin token).
"""

import json
import os
import sys
import threading

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

CHAT = "/switchboard.v1.ChatService/Chat"


def message_classes(path, names):
    with open(path, "rb") as f:
        fds = descriptor_pb2.FileDescriptorSet.FromString(f.read())
    pool = descriptor_pool.DescriptorPool()
    for file in fds.file:  # dependency order
        pool.AddSerializedFile(file.SerializeToString())
    if hasattr(message_factory, "GetMessageClass"):  # protobuf >= 4.22
        return [message_factory.GetMessageClass(pool.FindMessageTypeByName(n)) for n in names]
    factory = message_factory.MessageFactory(pool)
    return [factory.GetPrototype(pool.FindMessageTypeByName(n)) for n in names]


def emit(obj):
    print(json.dumps(obj), flush=True)


def main():
    address, descriptor_set, room, user_id, expect, *contents = sys.argv[1:]
    expect = int(expect)
    ChatRequest, ChatResponse = message_classes(
        descriptor_set, ["switchboard.v1.ChatRequest", "switchboard.v1.ChatResponse"]
    )
    enough = threading.Event()  # set once EXPECT messages arrived, or the call ended
    stop = threading.Event()  # set when the test never says "send"

    def requests():
        yield ChatRequest(room=room, user_id=user_id, content="")
        line = sys.stdin.readline()
        if line.strip() != "send":
            stop.set()
            return
        for content in contents:
            yield ChatRequest(room=room, user_id=user_id, content=content)
        enough.wait()  # half-close only when everything is in

    with grpc.insecure_channel(address) as channel:
        grpc.channel_ready_future(channel).result(timeout=10)
        chat = channel.stream_stream(
            CHAT,
            request_serializer=ChatRequest.SerializeToString,
            response_deserializer=ChatResponse.FromString,
        )
        metadata = [("authorization", f"Bearer {os.environ['SWITCHBOARD_TOKEN']}")]
        call = chat(requests(), timeout=60, metadata=metadata)
        received = 0
        try:
            for response in call:
                received += 1
                emit({"message": json_format.MessageToDict(
                    response.message, preserving_proto_field_name=True)})
                if received >= expect:
                    enough.set()
            emit({"done": True, "received": received})
        except grpc.RpcError as e:
            emit({"error": {"code": e.code().name, "details": e.details(),
                            "stopped": stop.is_set()}})
            sys.exit(1)
        finally:
            enough.set()


if __name__ == "__main__":
    main()
