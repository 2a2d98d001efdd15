// A deliberately minimal HTTP/2 client that writes frames itself: what a hostile client does
// and node:http2's client will not (open more streams than the server allows, reset them as
// fast as it opens them, never send a WINDOW_UPDATE).
import * as net from "node:net";

const preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

export const frameType = {
  data: 0,
  headers: 1,
  rstStream: 3,
  settings: 4,
  ping: 6,
  goaway: 7,
  windowUpdate: 8,
} as const;

const flag = { endStream: 0x1, ack: 0x1, endHeaders: 0x4 } as const;

export const setting = { maxConcurrentStreams: 0x3, initialWindowSize: 0x4 } as const;

function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head.writeUInt8(type, 3);
  head.writeUInt8(flags, 4);
  head.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

/** An HPACK integer with an n-bit prefix (RFC 7541 §5.1); `first` holds the prefix's high bits. */
function hpackInt(value: number, bits: number, first = 0): number[] {
  const max = (1 << bits) - 1;
  if (value < max) return [first | value];
  const out = [first | max];
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return out;
}

/** A header block of literal fields without indexing and without Huffman coding. */
function headerBlock(headers: [string, string][]): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of headers) {
    const n = Buffer.from(name);
    const v = Buffer.from(value);
    parts.push(Buffer.from([0x00, ...hpackInt(n.length, 7)]), n, Buffer.from(hpackInt(v.length, 7)), v);
  }
  return Buffer.concat(parts);
}

/** A gRPC call's request headers for a node:http2 client: `path`, the bearer `token`, and `extra`. */
export function grpcRequestHeaders(
  path: string,
  token: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    ":method": "POST",
    ":path": path,
    "content-type": "application/grpc",
    te: "trailers",
    authorization: `Bearer ${token}`,
    ...extra,
  };
}

/** A gRPC length-prefixed message. */
export function grpcFrame(message: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

export interface RawH2 {
  /** The server's SETTINGS, as received. */
  readonly serverSettings: Promise<Map<number, number>>;
  /** RST_STREAM codes the server sent, by stream id. */
  readonly resets: Map<number, number>;
  /** Streams the server answered with HEADERS. */
  readonly answered: Set<number>;
  /** Bytes of DATA the server sent, by stream id. */
  readonly received: Map<number, number>;
  /** The server's GOAWAY, if any. */
  goaway: { lastStreamId: number; code: number } | undefined;
  /** Resolves when the connection has closed. */
  readonly closed: Promise<void>;
  isClosed(): boolean;
  /** Opens a stream: HEADERS (and DATA with END_STREAM when `body` is given); returns its id. */
  request(path: string, headers: Record<string, string>, body?: Buffer): number;
  reset(streamId: number, code?: number): void;
  /** Writes raw bytes, e.g. many frames at once. */
  write(bytes: Buffer): void;
  /** The frames request() + reset() would send, to batch thousands into one write. */
  openAndResetFrames(path: string, headers: Record<string, string>): Buffer;
  destroy(): void;
}

/**
 * Connects with prior knowledge. `settings` go in the client's first SETTINGS frame, e.g.
 * { [setting.initialWindowSize]: 16 } for a client whose streams may receive only 16 bytes
 * until it says otherwise (it never does: this client sends no WINDOW_UPDATE).
 */
export async function connectRawH2(port: number, settings: Record<number, number> = {}): Promise<RawH2> {
  const socket = net.connect(port, "127.0.0.1");
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  socket.on("error", () => {}); // the server may drop us: that is what some tests provoke
  const entries = Object.entries(settings);
  const payload = Buffer.alloc(6 * entries.length);
  entries.forEach(([id, value], i) => {
    payload.writeUInt16BE(Number(id), 6 * i);
    payload.writeUInt32BE(value, 6 * i + 2);
  });
  socket.write(Buffer.concat([preface, frame(frameType.settings, 0, 0, payload)]));

  let resolveSettings: (s: Map<number, number>) => void = () => {};
  const serverSettings = new Promise<Map<number, number>>((r) => {
    resolveSettings = r;
  });
  let closedFlag = false;
  const closed = new Promise<void>((r) =>
    socket.once("close", () => {
      closedFlag = true;
      r();
    }),
  );
  let nextId = 1;
  let buffered = Buffer.alloc(0);
  const conn: RawH2 = {
    serverSettings,
    resets: new Map(),
    answered: new Set(),
    received: new Map(),
    goaway: undefined,
    closed,
    isClosed: () => closedFlag,
    request(path, headers, body) {
      const id = nextId;
      nextId += 2;
      const block = headerBlock(requestHeaders(path, headers));
      const out = [frame(frameType.headers, flag.endHeaders, id, block)];
      if (body) out.push(frame(frameType.data, flag.endStream, id, body));
      socket.write(Buffer.concat(out));
      return id;
    },
    reset(streamId, code = 0x8 /* CANCEL */) {
      const p = Buffer.alloc(4);
      p.writeUInt32BE(code);
      socket.write(frame(frameType.rstStream, 0, streamId, p));
    },
    write(bytes) {
      if (!socket.destroyed) socket.write(bytes);
    },
    openAndResetFrames(path, headers) {
      const id = nextId;
      nextId += 2;
      const p = Buffer.alloc(4);
      p.writeUInt32BE(0x8);
      return Buffer.concat([
        frame(frameType.headers, flag.endHeaders, id, headerBlock(requestHeaders(path, headers))),
        frame(frameType.rstStream, 0, id, p),
      ]);
    },
    destroy() {
      socket.destroy();
    },
  };
  socket.on("data", (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 9) {
      const length = buffered.readUIntBE(0, 3);
      if (buffered.length < 9 + length) break;
      const type = buffered.readUInt8(3);
      const flags = buffered.readUInt8(4);
      const streamId = buffered.readUInt32BE(5) & 0x7fffffff;
      const body = buffered.subarray(9, 9 + length);
      buffered = buffered.subarray(9 + length);
      switch (type) {
        case frameType.settings:
          if (!(flags & flag.ack)) {
            const map = new Map<number, number>();
            for (let i = 0; i + 6 <= body.length; i += 6)
              map.set(body.readUInt16BE(i), body.readUInt32BE(i + 2));
            resolveSettings(map);
            socket.write(frame(frameType.settings, flag.ack, 0));
          }
          break;
        case frameType.ping:
          if (!(flags & flag.ack)) socket.write(frame(frameType.ping, flag.ack, 0, Buffer.from(body)));
          break;
        case frameType.headers:
          conn.answered.add(streamId);
          break;
        case frameType.data:
          conn.received.set(streamId, (conn.received.get(streamId) ?? 0) + length);
          break;
        case frameType.rstStream:
          conn.resets.set(streamId, body.readUInt32BE(0));
          break;
        case frameType.goaway:
          conn.goaway = { lastStreamId: body.readUInt32BE(0) & 0x7fffffff, code: body.readUInt32BE(4) };
          break;
      }
    }
  });
  return conn;
}

function requestHeaders(path: string, headers: Record<string, string>): [string, string][] {
  return [
    [":method", "POST"],
    [":scheme", "http"],
    [":path", path],
    [":authority", "127.0.0.1"],
    ...Object.entries(headers),
  ];
}
