import type * as http from "node:http";
import * as http2 from "node:http2";
import type { Readable } from "node:stream";
import { Code, ConnectError } from "@connectrpc/connect";
import type { CallOrigin } from "../call-control.ts";

/**
 * One unary request and its answer, whatever carries them: a bare HTTP/2 stream (node's core
 * API, without the compatibility layer's request and response objects) or an HTTP/1.1
 * request and response. The fast path reads and answers through this and nothing else. It is
 * also the call's origin (its headers, its client's address, its reset).
 */
export interface UnaryExchange extends CallOrigin {
  readonly h2: boolean;
  /** The request's absolute URL, as connect-node gives a handler. */
  url(): string;
  /** The request body, refused early when over the limit (see readBody). */
  body(readMaxBytes: number, enveloped: boolean): Promise<Uint8Array>;
  /** Calls `listener` once the exchange is over, answered or not (the client may have left). */
  onClose(listener: () => void): void;
  offClose(listener: () => void): void;
  /** A gRPC answer: headers, the message frame if any, then trailers. */
  answerGrpc(
    headers: Record<string, string>,
    frame: Uint8Array | undefined,
    trailers: Record<string, string>,
  ): void;
  /** A Connect unary answer: status, headers and the whole body. */
  answerConnect(status: number, headers: Record<string, string>, body: Uint8Array): void;
}

/** A bare HTTP/2 stream. (A class: one object a call, its methods shared.) */
class StreamExchange implements UnaryExchange {
  readonly h2 = true;
  readonly stream: http2.ServerHttp2Stream;
  readonly headers: http2.IncomingHttpHeaders;
  #trailers: Record<string, string> | undefined;

  constructor(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) {
    this.stream = stream;
    this.headers = headers;
    // (The fast path listens for the stream's errors from the moment it takes the stream.)
  }

  get remoteAddress(): string | undefined {
    return this.stream.session?.socket?.remoteAddress;
  }

  reset(): void {
    if (!this.stream.closed) this.stream.close(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
  }

  url(): string {
    const encrypted = this.stream.session?.encrypted === true;
    const authority = this.headers[":authority"] ?? this.headers.host ?? "localhost";
    return `${encrypted ? "https" : "http"}://${authority}${this.headers[":path"] ?? ""}`;
  }

  body(readMaxBytes: number, enveloped: boolean): Promise<Uint8Array> {
    return readBody(this.stream, this.headers, readMaxBytes, enveloped);
  }

  onClose(listener: () => void): void {
    this.stream.once("close", listener);
  }

  offClose(listener: () => void): void {
    this.stream.off("close", listener);
  }

  answerGrpc(
    head: Record<string, string>,
    frame: Uint8Array | undefined,
    trailers: Record<string, string>,
  ): void {
    const stream = this.stream;
    if (stream.destroyed || stream.closed) return;
    head[":status"] = "200";
    this.#trailers = trailers;
    stream.respond(head, { waitForTrailers: true });
    stream.once("wantTrailers", this.#sendTrailers);
    stream.end(frame);
  }

  readonly #sendTrailers = () => {
    this.stream.sendTrailers(this.#trailers ?? {});
  };

  answerConnect(status: number, head: Record<string, string>, body: Uint8Array): void {
    const stream = this.stream;
    if (stream.destroyed || stream.closed) return;
    head[":status"] = String(status);
    stream.respond(head);
    stream.end(body);
  }
}

/** An HTTP/1.1 request and its response. */
class RequestExchange implements UnaryExchange {
  readonly h2 = false;
  readonly req: http.IncomingMessage;
  readonly res: http.ServerResponse;

  constructor(req: http.IncomingMessage, res: http.ServerResponse) {
    this.req = req;
    this.res = res;
  }

  get headers(): http.IncomingHttpHeaders {
    return this.req.headers;
  }

  get remoteAddress(): string | undefined {
    return this.req.socket?.remoteAddress;
  }

  reset(): void {
    this.req.socket.destroy();
  }

  url(): string {
    const encrypted = (this.req.socket as { encrypted?: boolean }).encrypted === true;
    return `${encrypted ? "https" : "http"}://${this.req.headers.host ?? "localhost"}${this.req.url ?? ""}`;
  }

  body(readMaxBytes: number, enveloped: boolean): Promise<Uint8Array> {
    return readBody(this.req, this.req.headers, readMaxBytes, enveloped);
  }

  onClose(listener: () => void): void {
    this.res.once("close", listener);
  }

  offClose(listener: () => void): void {
    this.res.off("close", listener);
  }

  answerGrpc(): void {
    // gRPC needs HTTP/2; the fast path never takes it over HTTP/1.1.
    throw new Error("gRPC over HTTP/1.1");
  }

  answerConnect(status: number, head: Record<string, string>, body: Uint8Array): void {
    if (this.res.destroyed) return;
    this.res.writeHead(status, head);
    this.res.end(body);
  }
}

/** A bare HTTP/2 stream. */
export function streamExchange(
  stream: http2.ServerHttp2Stream,
  headers: http2.IncomingHttpHeaders,
): UnaryExchange {
  return new StreamExchange(stream, headers);
}

/** An HTTP/1.1 request and its response. */
export function requestExchange(req: http.IncomingMessage, res: http.ServerResponse): UnaryExchange {
  return new RequestExchange(req, res);
}

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
      source.off("close", onAbort);
    };
    source.on("data", onData);
    source.once("end", onEnd);
    source.once("error", onAbort);
    // Closed before its end: the client reset the stream or dropped the connection.
    source.once("close", onAbort);
  });
}

function tooLarge(message: string): ConnectError {
  return new ConnectError(message, Code.ResourceExhausted);
}
