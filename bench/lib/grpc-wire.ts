// A minimal gRPC client over node:http2 for the bench's client processes: far lighter than
// the server it loads, so on its own core it is never what limits a figure. Every call
// reports its grpc-status; anything but 0 is an error the bench counts and fails on.
import { type ClientHttp2Session, type ClientHttp2Stream, connect } from "node:http2";

export interface CallOutcome {
  /** grpc-status (from trailers or a trailers-only response); -1 when the stream broke. */
  status: number;
  message: string;
  httpStatus: number;
}

/**
 * Receive windows of Go's HTTP/2 transport (what connect-go and grpc-go clients use: 4 MiB per
 * stream, and grpc-go grows its windows further by BDP estimation). node:http2's default of
 * 64 KiB makes a fast stream wait for this client's WINDOW_UPDATE every 64 KiB, which measures
 * the client rather than the server.
 */
const streamWindowBytes = 4 << 20;
const sessionWindowBytes = 16 << 20;

export function openSession(baseUrl: string): Promise<ClientHttp2Session> {
  const session = connect(baseUrl, { settings: { initialWindowSize: streamWindowBytes } });
  session.once("connect", () => session.setLocalWindowSize(sessionWindowBytes));
  session.on("error", () => {});
  return new Promise((resolve, reject) => {
    session.once("connect", () => resolve(session));
    session.once("error", reject);
  });
}

export function frame(message: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + message.length);
  out[0] = 0;
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

/**
 * Starts a call; `onMessage` gets each response message's bytes. Resolves with the outcome
 * once the stream has closed. Write the request frames to the returned stream, then end it.
 */
export function startCall(
  session: ClientHttp2Session,
  path: string,
  token: string,
  onMessage: (bytes: Uint8Array) => void,
): { stream: ClientHttp2Stream; outcome: Promise<CallOutcome> } {
  const stream = session.request({
    ":method": "POST",
    ":path": path,
    "content-type": "application/grpc",
    te: "trailers",
    authorization: `Bearer ${token}`,
  });
  const outcome: CallOutcome = { status: -1, message: "stream closed without grpc-status", httpStatus: 0 };
  const onHeaders = (headers: Record<string, unknown>) => {
    if (headers[":status"] !== undefined) outcome.httpStatus = Number(headers[":status"]);
    if (headers["grpc-status"] !== undefined) {
      outcome.status = Number(headers["grpc-status"]);
      outcome.message = decodeURIComponent(String(headers["grpc-message"] ?? ""));
    }
  };
  stream.on("response", onHeaders);
  stream.on("trailers", onHeaders);
  let pending: Buffer = Buffer.alloc(0);
  stream.on("data", (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    let at = 0;
    while (pending.length - at >= 5) {
      const length = pending.readUInt32BE(at + 1);
      if (pending.length - at < 5 + length) break;
      onMessage(pending.subarray(at + 5, at + 5 + length));
      at += 5 + length;
    }
    pending = pending.subarray(at);
  });
  const done = new Promise<CallOutcome>((resolve) => {
    stream.on("error", (err: Error) => {
      outcome.message = err.message;
    });
    stream.on("close", () => resolve(outcome));
  });
  return { stream, outcome: done };
}

/** Writes with backpressure: waits for 'drain' when the stream's buffer is full. */
export async function write(stream: ClientHttp2Stream, chunk: Buffer): Promise<void> {
  if (stream.write(chunk)) return;
  // Both listeners go once either fires (once() would leave the other behind, one per write).
  await new Promise<void>((resolve) => {
    const done = () => {
      stream.off("drain", done);
      stream.off("close", done);
      resolve();
    };
    stream.on("drain", done);
    stream.on("close", done);
  });
}
