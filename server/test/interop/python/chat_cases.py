"""The ChatService cases, as Python grpcio runs them.

The steps are those of chat-cases.ts, and each case returns the outcome it describes there
(snake_case keys; the test converts them), so the same assertions judge every client. Subscribe
never ends by itself: a case reads the messages that must come, cancels the call and checks that
it ended CANCELLED. Chat writes in lockstep: each request once the replies before it are in, then
half-closes, and the server must end the stream OK.
"""

import threading

from grpc_support import UNKNOWN_ID, as_dict, failure, read_live

CHAT = "switchboard.v1.ChatService/"
BAD_ROOM = "Not A Room!"


def new_user(c, email):
    return c.call("switchboard.v1.UserService/CreateUser", name="Chatter", email=email, age=30).user.id


def send_message(c, room, user_id, content):
    return as_dict(c.call(CHAT + "SendMessage", room=room, user_id=user_id, content=content).message)


def subscribe(c, take, on_message=None, **request):
    return [m["message"] for m in read_live(c, CHAT + "Subscribe", take, on_message, **request)]


def chat(c, requests, await_replies=None):
    """A Chat stream: writes the requests (request i + 1 only once await_replies[i] messages are
    in, when given), half-closes, and reads the responses to the end."""
    invoke = c.method("stream_stream", CHAT + "Chat", "switchboard.v1.ChatRequest",
                      "switchboard.v1.ChatResponse")
    received = []
    replies = threading.Condition()
    over = threading.Event()

    def requests_in_lockstep():
        for i, request in enumerate(requests):
            if over.is_set():
                return
            yield c.message("switchboard.v1.ChatRequest", **request)
            if await_replies:
                with replies:
                    if not replies.wait_for(
                            lambda: over.is_set() or len(received) >= await_replies[i], timeout=5):
                        raise AssertionError(f"{len(received)} of {await_replies[i]} replies after 5 s")

    try:
        for response in invoke(requests_in_lockstep(), timeout=10):
            with replies:
                received.append(as_dict(response)["message"])
                replies.notify_all()
    finally:
        with replies:
            over.set()
            replies.notify_all()
    return received


def chat_case(c, other, tag):
    room = f"chat-{tag}"
    user_id = new_user(c, f"chat@{tag}.example")
    welcome = send_message(other, room, user_id, "Welcome")
    chatted = []

    def run_chat(i):
        # The welcome is replayed: join, post twice in lockstep, half-close.
        if i == 0:
            chatted.extend(chat(c, [
                {"room": room, "user_id": user_id, "content": ""},
                {"room": room, "user_id": user_id, "content": "First"},
                {"room": room, "user_id": user_id, "content": "Second"},
            ], [0, 1, 2]))

    heard = subscribe(other, 3, run_chat, room=room)
    bad_room = failure(lambda: chat(c, [{"room": BAD_ROOM, "user_id": user_id, "content": "x"}]))
    unknown_user = failure(lambda: chat(c, [{"room": room, "user_id": UNKNOWN_ID, "content": "Nobody"}]))
    return {"user_id": user_id, "room": room, "welcome": welcome, "chat": chatted, "heard": heard,
            "bad_room": bad_room, "unknown_user": unknown_user}


def send_message_case(c, other, tag):
    room = f"send-{tag}"
    user_id = new_user(c, f"send-message@{tag}.example")
    first = send_message(c, room, user_id, "Hello")
    second = send_message(c, room, user_id, "Again")
    empty_content = failure(lambda: send_message(c, room, user_id, ""))
    bad_room = failure(lambda: send_message(c, BAD_ROOM, user_id, "x"))
    unknown_user = failure(lambda: send_message(c, room, UNKNOWN_ID, "Nobody"))
    return {"user_id": user_id, "room": room, "first": first, "second": second,
            "empty_content": empty_content, "bad_room": bad_room, "unknown_user": unknown_user}


def subscribe_case(c, other, tag):
    room = f"subscribe-{tag}"
    user_id = new_user(c, f"subscribe-chat@{tag}.example")
    sent = [send_message(c, room, user_id, content) for content in ["One", "Two", "Three"]]
    live = {}

    def post(i):
        # The history is in: the other client posts while the stream is open.
        if i == 2:
            live.update(send_message(other, room, user_id, "Four"))

    messages = subscribe(c, 4, post, room=room)
    resumed = subscribe(c, 2, room=room, after_sequence=messages[1]["sequence"])
    bad_room = failure(lambda: subscribe(c, 1, room=BAD_ROOM))
    return {"user_id": user_id, "room": room, "sent": sent, "live": live, "messages": messages,
            "resumed": resumed, "bad_room": bad_room}


# Keyed as the matrix columns (the RPC names).
CASES = {
    "Chat": chat_case,
    "SendMessage": send_message_case,
    "Subscribe": subscribe_case,
}

