import { type FormEvent, type KeyboardEvent, useEffect, useLayoutEffect, useRef, useState } from "react";
import type { ChatMessage } from "../../../gen/switchboard/v1/chat_pb.js";
import { useActingUser } from "../acting-user.tsx";
import { useApi } from "../api.tsx";
import { LiveBadge } from "../components/live-badge.tsx";
import { describeError } from "../errors.ts";
import { formatTime, shortId } from "../format.ts";
import { unwrap, useLiveStream } from "../live-stream.ts";
import { Link, navigate } from "../router.tsx";
import { useUserName } from "../user-names.ts";

const roomPattern = /^[a-z0-9-]{1,64}$/;
const roomsKey = "switchboard.rooms";

/** Rooms exist from their first message and the API does not list them: this browser remembers the ones it visited. */
function useRooms(current: string): string[] {
  const [rooms, setRooms] = useState<string[]>(() => {
    try {
      const stored: unknown = JSON.parse(localStorage.getItem(roomsKey) ?? "[]");
      return Array.isArray(stored)
        ? stored.filter((r): r is string => typeof r === "string" && roomPattern.test(r))
        : [];
    } catch {
      return [];
    }
  });
  useEffect(() => {
    setRooms((prev) => {
      if (current === "general" || prev.includes(current)) return prev;
      const next = [...prev, current].sort();
      localStorage.setItem(roomsKey, JSON.stringify(next));
      return next;
    });
  }, [current]);
  return ["general", ...rooms.filter((r) => r !== "general")];
}

export function ChatPage({ room }: { room: string }) {
  const rooms = useRooms(room);
  const valid = roomPattern.test(room);
  return (
    <div className="page chat-page">
      <header className="page-header">
        <div>
          <h1>Chat</h1>
          <p className="page-subtitle">
            Rooms are shared with every client: browsers, grpc-js, Python, buf curl.
          </p>
        </div>
      </header>
      <div className="chat-layout">
        <aside className="card rooms" aria-labelledby="rooms-title">
          <h2 id="rooms-title">Rooms</h2>
          <nav aria-label="Rooms">
            <ul>
              {rooms.map((r) => (
                <li key={r}>
                  <Link to={`/chat/${r}`} current={r === room} className="room-link">
                    <span aria-hidden="true" className="hash">
                      #
                    </span>
                    {r}
                  </Link>
                </li>
              ))}
            </ul>
          </nav>
          <JoinRoom />
        </aside>
        {valid ? (
          <ChatRoom key={room} room={room} />
        ) : (
          <section className="card chat-room">
            <p role="alert" className="alert">
              “{room}” is not a room name: use 1 to 64 lowercase letters, digits or dashes.
            </p>
          </section>
        )}
      </div>
    </div>
  );
}

function JoinRoom() {
  const [name, setName] = useState("");
  const [error, setError] = useState<string>();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const room = name.trim().toLowerCase();
    if (!roomPattern.test(room)) {
      setError("Use 1–64 lowercase letters, digits or dashes.");
      return;
    }
    setError(undefined);
    setName("");
    navigate(`/chat/${room}`);
  };
  return (
    <form className="join-room" onSubmit={submit} noValidate>
      <label htmlFor="join-room">Join or create a room</label>
      <div className="inline-form">
        <input
          id="join-room"
          value={name}
          placeholder="room-name"
          autoComplete="off"
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? "join-room-error" : undefined}
          onChange={(e) => setName(e.target.value)}
        />
        <button type="submit" className="button">
          Join
        </button>
      </div>
      {error && (
        <p id="join-room-error" className="field-error">
          {error}
        </p>
      )}
    </form>
  );
}

function ChatRoom({ room }: { room: string }) {
  const api = useApi();
  const [messages, setMessages] = useState<ChatMessage[]>([]);
  const list = useRef<HTMLOListElement>(null);
  const stick = useRef(true);

  // No cursor at first: the server replays the room's recent history, then goes live.
  const status = useLiveStream<ChatMessage>({
    open: (after, signal) =>
      unwrap(
        api.chat.subscribe(after === undefined ? { room } : { room, afterSequence: after }, { signal }),
        "message",
      ),
    sequenceOf: (m) => m.sequence,
    onItems: (items) => setMessages((prev) => prev.concat(items)),
  });

  // Follow the conversation unless the reader scrolled up to read older messages.
  useLayoutEffect(() => {
    const el = list.current;
    if (el && stick.current && messages.length > 0) el.scrollTop = el.scrollHeight;
  }, [messages]);

  return (
    <section className="card chat-room" aria-labelledby="room-title">
      <div className="card-toolbar">
        <h2 id="room-title">
          <span aria-hidden="true" className="hash">
            #
          </span>
          {room}
        </h2>
        <LiveBadge name="Chat feed" status={status} />
      </div>
      <ol
        ref={list}
        role="log"
        aria-label={`Messages in ${room}`}
        className="messages"
        onScroll={(e) => {
          const el = e.currentTarget;
          stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
        }}
      >
        {messages.length === 0 && (
          <li className="messages-empty">
            {status.state === "live" ? "No messages yet. Say hello!" : "Loading messages…"}
          </li>
        )}
        {messages.map((m, i) => (
          <Message key={m.id} message={m} continued={continues(messages[i - 1], m)} />
        ))}
      </ol>
      <Composer room={room} />
    </section>
  );
}

/** A message from the same author within five minutes joins the previous one's group. */
function continues(prev: ChatMessage | undefined, m: ChatMessage): boolean {
  if (!prev || prev.userId !== m.userId || !prev.createTime || !m.createTime) return false;
  return m.createTime.seconds - prev.createTime.seconds < 300n;
}

function Message({ message, continued }: { message: ChatMessage; continued: boolean }) {
  // A user sees other users' names only if the server lets them read those users.
  // The name the message was posted under; older messages carry none.
  const known = useUserName(message.userId);
  const name = message.userName || known || `User ${shortId(message.userId)}`;
  const { user } = useActingUser();
  const mine = user?.id === message.userId;
  return (
    <li className={`message${continued ? " is-continued" : ""}${mine ? " is-mine" : ""}`}>
      {!continued && (
        <div className="message-meta">
          <span className="message-author">{name}</span>
          <time className="muted">{formatTime(message.createTime)}</time>
        </div>
      )}
      <p className="message-body">{message.content}</p>
    </li>
  );
}

function Composer({ room }: { room: string }) {
  const api = useApi();
  const { user, requestUserId } = useActingUser();
  const [text, setText] = useState("");
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const send = async () => {
    const content = text.trim();
    if (!user || !content || busy) return;
    setBusy(true);
    try {
      await api.chat.sendMessage({ room, userId: requestUserId, content });
      setText("");
      setError(undefined);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };
  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      void send();
    }
  };

  return (
    <form
      className="composer"
      onSubmit={(e) => {
        e.preventDefault();
        void send();
      }}
    >
      <label htmlFor="composer" className="visually-hidden">
        Message
      </label>
      <textarea
        id="composer"
        rows={2}
        value={text}
        disabled={!user}
        placeholder={
          user
            ? `Message #${room} as ${user.name}`
            : "Choose who you are (Acting as, at the top) to send messages"
        }
        onChange={(e) => setText(e.target.value)}
        onKeyDown={onKeyDown}
      />
      <button type="submit" className="button button-primary" disabled={!user || busy || !text.trim()}>
        Send
      </button>
      {error && (
        <p role="alert" className="alert composer-error">
          {error}
        </p>
      )}
    </form>
  );
}
