"""What the Python grpcio cases share: message classes and method shapes read from the
descriptor set at run time (nothing generated), a client over one channel that sends a bearer
token as metadata, and how outcomes are reported."""

import functools

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

UNKNOWN_ID = "01890000-0000-7000-8000-000000000000"


def load_schema(path):
    """The descriptor pool of a FileDescriptorSet (files in dependency order), and its message
    classes by full name."""
    with open(path, "rb") as f:
        fds = descriptor_pb2.FileDescriptorSet.FromString(f.read())
    pool = descriptor_pool.DescriptorPool()
    for file in fds.file:
        pool.AddSerializedFile(file.SerializeToString())
    names = [
        f"{file.package}.{message.name}" for file in fds.file for message in file.message_type
    ]
    if hasattr(message_factory, "GetMessageClass"):  # protobuf >= 4.22
        return pool, {n: message_factory.GetMessageClass(pool.FindMessageTypeByName(n)) for n in names}
    factory = message_factory.MessageFactory(pool)
    return pool, {n: factory.GetPrototype(pool.FindMessageTypeByName(n)) for n in names}


class Client:
    """Calls on one channel as `token`: every call carries ("authorization", "Bearer <token>")
    metadata, none when token is None."""

    def __init__(self, channel, schema, token=None):
        self.channel = channel
        self.schema = schema
        self.pool, self.m = schema
        self.metadata = (("authorization", f"Bearer {token}"),) if token is not None else None

    def as_token(self, token):
        """The same channel, calling as another token (None: no Authorization metadata)."""
        return Client(self.channel, self.schema, token)

    def method(self, kind, path, request, response):
        """A callable for one RPC: kind is unary_unary, unary_stream, stream_unary or stream_stream."""
        factory = getattr(self.channel, kind)
        invoke = factory(
            "/" + path,
            request_serializer=self.m[request].SerializeToString,
            response_deserializer=self.m[response].FromString,
        )
        return functools.partial(invoke, metadata=self.metadata)

    def call(self, path, /, timeout=10, **fields):
        """Calls "package.Service/Method" with a request built from fields (proto names); the
        kind of call and the message types come from the method's descriptor."""
        service, name = path.split("/")
        method = self.pool.FindServiceByName(service).methods_by_name[name]
        kind = ("stream" if method.client_streaming else "unary") + "_" + (
            "stream" if method.server_streaming else "unary")
        invoke = self.method(kind, path, method.input_type.full_name, method.output_type.full_name)
        return invoke(self.message(method.input_type.full_name, **fields), timeout=timeout)

    def message(self, type_name, /, **fields):
        return json_format.ParseDict(fields, self.m[type_name]())


def as_dict(msg):
    return json_format.MessageToDict(msg, preserving_proto_field_name=True)


def code_name(status_code):
    """A grpc.StatusCode in Connect's spelling, as the matrix compares them ("not_found")."""
    name = status_code.name.lower()
    return "canceled" if name == "cancelled" else name


def failure(fn):
    """The failure of a call that must fail, as {code, message}."""
    try:
        fn()
    except grpc.RpcError as e:
        return {"code": code_name(e.code()), "message": e.details()}
    raise AssertionError("the call succeeded")


def read_live(c, path, take, on_message=None, **request):
    """Reads `take` messages of a live stream, calling on_message(i) as message i comes in,
    then cancels the call, which must end CANCELLED."""
    call = c.call(path, **request)
    messages = []
    for response in call:
        messages.append(as_dict(response))
        if on_message:
            on_message(len(messages) - 1)
        if len(messages) == take:
            break
    call.cancel()
    if call.code() is not grpc.StatusCode.CANCELLED:
        raise AssertionError(f"{path} ended {call.code()} {call.details()} before it was cancelled")
    return messages


def outcome(fn):
    try:
        return {"ok": True, **fn()}
    except grpc.RpcError as e:
        return {"ok": False, "code": e.code().name, "details": e.details()}
    except Exception as e:  # a broken case must not hide the others
        return {"ok": False, "code": "CLIENT_ERROR", "details": repr(e)}
