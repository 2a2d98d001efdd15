import type * as http from "node:http";
import type * as http2 from "node:http2";
import type { Readable } from "node:stream";
import { Code, ConnectError } from "@connectrpc/connect";
import { type CallOrigin, requestOrigin, streamOrigin } from "../call-control.ts";

/**
 * One unary request and its answer, whatever carries them: a bare HTTP/2 stream (node's core
 * API, without the compatibility layer's request and response objects) or an HTTP/1.1
 * request and response. The fast path reads and answers through this and nothing else.
 */
export interface UnaryExchange {
  readonly headers: http.IncomingHttpHeaders;
  readonly h2: boolean;
  readonly origin: CallOrigin;
  /** The request's absolute URL, as connect-node gives a handler. */
  url(): string;
  /** The request body, refused early when over the limit (see readBody). */
  body(readMaxBytes: number, enveloped: boolean): Promise<Uint8Array>;
  /** Calls `listener` if the client goes away before the answer is sent; returns the undo. */
  onClose(listener: () => void): () => void;
  /** A gRPC answer: headers, the message frame if any, then trailers. */
  answerGrpc(
    headers: Record<string, string>,
    frame: Uint8Array | undefined,
    trailers: Record<string, string>,
  ): void;
  /** A Connect unary answer: status, headers and the whole body. */
  answerConnect(status: number, headers: Record<string, string>, body: Uint8Array): void;
}

/** A bare HTTP/2 stream. */
export function streamExchange(
  stream: http2.ServerHttp2Stream,
  headers: http2.IncomingHttpHeaders,
): UnaryExchange {
  // Without a listener a stream error (the client reset the stream mid-request) would be
  // thrown; the call sees the reset as 'aborted' or 'close' instead.
  stream.on("error", ignore);
  return {
    headers,
    h2: true,
    origin: streamOrigin(stream, headers),
    url() {
      const encrypted = stream.session?.encrypted === true;
      const authority = headers[":authority"] ?? headers.host ?? "localhost";
      return `${encrypted ? "https" : "http"}://${authority}${headers[":path"] ?? ""}`;
    },
    body: (readMaxBytes, enveloped) => readBody(stream, headers, readMaxBytes, enveloped),
    onClose(listener) {
      stream.once("close", listener);
      return () => stream.off("close", listener);
    },
    answerGrpc(head, frame, trailers) {
      if (stream.destroyed || stream.closed) return;
      head[":status"] = "200";
      stream.respond(head, { waitForTrailers: true });
      stream.once("wantTrailers", () => stream.sendTrailers(trailers));
      stream.end(frame);
    },
    answerConnect(status, head, body) {
      if (stream.destroyed || stream.closed) return;
      head[":status"] = String(status);
      stream.respond(head);
      stream.end(body);
    },
  };
}

/** An HTTP/1.1 request and its response. */
export function requestExchange(req: http.IncomingMessage, res: http.ServerResponse): UnaryExchange {
  return {
    headers: req.headers,
    h2: false,
    origin: requestOrigin(req),
    url() {
      const encrypted = (req.socket as { encrypted?: boolean }).encrypted === true;
      return `${encrypted ? "https" : "http"}://${req.headers.host ?? "localhost"}${req.url ?? ""}`;
    },
    body: (readMaxBytes, enveloped) => readBody(req, req.headers, readMaxBytes, enveloped),
    onClose(listener) {
      res.once("close", listener);
      return () => res.off("close", listener);
    },
    answerGrpc() {
      // gRPC needs HTTP/2; the fast path never takes it over HTTP/1.1.
      throw new Error("gRPC over HTTP/1.1");
    },
    answerConnect(status, head, body) {
      if (res.destroyed) return;
      res.writeHead(status, head);
      res.end(body);
    },
  };
}

function ignore(): void {}

/**
 * The whole request body, refused as early as possible when its message is larger than
 * `readMaxBytes`: from content-length, from a gRPC envelope's length prefix, or as it arrives.
 * A refused body is read away (not buffered), so the answer can still be sent.
 */
function readBody(
  source: Readable,
  headers: http.IncomingHttpHeaders,
  readMaxBytes: number,
  enveloped: boolean,
): Promise<Uint8Array> {
  const maxBytes = enveloped ? readMaxBytes + 5 : readMaxBytes;
  return new Promise((resolve, reject) => {
    const declared = enveloped ? undefined : headers["content-length"];
    if (declared !== undefined && Number(declared) > maxBytes) {
      source.resume();
      reject(tooLarge(`message size ${declared} is larger than configured readMaxBytes ${maxBytes}`));
      return;
    }
    if (source.readableEnded) {
      // An HTTP/2 stream whose client ended it with no data (END_STREAM on its HEADERS or on an
      // empty DATA frame) has already emitted 'end' by the time a call starts: an empty body.
      resolve(new Uint8Array(0));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let checkedPrefix = !enveloped;
    const refuse = (message: string) => {
      cleanup();
      source.resume();
      reject(tooLarge(message));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.byteLength;
      if (!checkedPrefix && size >= 5) {
        checkedPrefix = true;
        const head = chunks.length === 0 ? chunk : Buffer.concat([...chunks, chunk]);
        const length = head.readUInt32BE(1);
        if (length > readMaxBytes) {
          refuse(`message size ${length} is larger than configured readMaxBytes ${readMaxBytes}`);
          return;
        }
      }
      if (size > maxBytes) {
        refuse(`message size is larger than configured readMaxBytes ${maxBytes}`);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    };
    const onAbort = () => {
      cleanup();
      reject(new ConnectError("the client went away", Code.Canceled));
    };
    const cleanup = () => {
      source.off("data", onData);
      source.off("end", onEnd);
      source.off("error", onAbort);
      source.off("aborted", onAbort);
      source.off("close", onAbort);
    };
    source.on("data", onData);
    source.once("end", onEnd);
    source.once("error", onAbort);
    source.once("aborted", onAbort);
    // A bare HTTP/2 stream reset by the client may close without 'aborted' having been seen.
    source.once("close", onAbort);
  });
}

function tooLarge(message: string): ConnectError {
  return new ConnectError(message, Code.ResourceExhausted);
}
