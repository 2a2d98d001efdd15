import { readFileSync } from "node:fs";
import * as http from "node:http";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import * as net from "node:net";
import * as tls from "node:tls";
import type { Config } from "./config.ts";
import type { HttpHandlers } from "./http-handler.ts";
import type { Logger } from "./logger.ts";

/** The client connection preface that opens every HTTP/2 connection with prior knowledge. */
const h2Preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

export interface Listener {
  readonly port: number;
  /**
   * Stops accepting connections, asks HTTP/2 clients to go away (GOAWAY) and HTTP/1.1 clients
   * to close, waits up to `graceMs` for open requests to finish, then destroys what is left.
   */
  close(graceMs: number): Promise<void>;
}

type ListenerConfig = Pick<Config, "port" | "host" | "tls" | "maxConcurrentStreams" | "headersTimeoutMs">;

/**
 * One port for every protocol. Cleartext connections are sniffed: those that open with the
 * HTTP/2 preface go to the HTTP/2 server (h2c with prior knowledge, what gRPC clients and
 * `buf curl --http2-prior-knowledge` send), the rest to the HTTP/1.1 server. With TLS, ALPN
 * picks h2 or http/1.1 instead.
 */
export async function listen(
  handlers: HttpHandlers,
  config: ListenerConfig,
  logger: Logger,
): Promise<Listener> {
  const h2Settings: http2.Settings = {
    maxConcurrentStreams: config.maxConcurrentStreams,
    // Bounds what one client can make the server hold for header blocks.
    maxHeaderListSize: 64 * 1024,
  };
  const h2Options = {
    settings: h2Settings,
    // Per-session memory cap (MB) for buffered frames; beyond it new streams are refused.
    maxSessionMemory: 32,
    maxSessionInvalidFrames: 100,
    maxSessionRejectedStreams: 100,
  };
  const connections = new Set<net.Socket>();
  const h2Sessions = new Set<http2.Http2Session>();
  const onSession = (session: http2.Http2Session) => {
    h2Sessions.add(session);
    session.once("close", () => h2Sessions.delete(session));
  };

  // HTTP/2 is served from node's core `stream` event: the unary fast path takes its calls
  // as bare streams, and only the rest get the compatibility layer's request and response
  // (serveStream). Registering a 'request' listener instead would build those for every stream.
  const h2 = http2.createServer(h2Options);
  h2.on("stream", (stream, headers, _flags, rawHeaders) =>
    serveStream(handlers, stream, headers, rawHeaders),
  );
  h2.on("session", onSession);
  const h1 = http.createServer(
    { headersTimeout: config.headersTimeoutMs, requestTimeout: 0 },
    handlers.request as (req: http.IncomingMessage, res: http.ServerResponse) => void,
  );
  h1.keepAliveTimeout = 65_000;
  let server: net.Server;
  if (config.tls) {
    // ALPN picks the server: h2, or HTTP/1.1 for clients that offer only it (or nothing).
    server = tls.createServer(
      {
        cert: readFileSync(config.tls.cert),
        key: readFileSync(config.tls.key),
        ALPNProtocols: ["h2", "http/1.1"],
      },
      (socket) => (socket.alpnProtocol === "h2" ? h2 : h1).emit("connection", socket),
    );
  } else {
    server = net.createServer((socket) => sniff(socket, h2, h1, config.headersTimeoutMs));
  }
  // HTTP/1.1 connections and their requests in flight. http.Server tracks its connections
  // only when it listens itself, and here the sniffer hands them over, so shutdown cannot
  // rely on closeIdleConnections(): it closes what is idle and ends the rest as they finish.
  const h1Active = new Map<net.Socket, number>();
  let closing = false;
  const trackH1 = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const socket = req.socket;
    h1Active.set(socket, (h1Active.get(socket) ?? 0) + 1);
    if (closing) res.setHeader("connection", "close");
    res.once("close", () => {
      const left = (h1Active.get(socket) ?? 1) - 1;
      h1Active.set(socket, left);
      if (closing && left === 0) socket.end();
    });
  };
  h1.on("request", trackH1);
  h1.on("connection", (socket: net.Socket) => {
    h1Active.set(socket, 0);
    socket.once("close", () => h1Active.delete(socket));
  });
  server.on("connection", (socket: net.Socket) => {
    connections.add(socket);
    socket.once("close", () => connections.delete(socket));
  });
  server.on("error", (err) => logger.error({ err }, "listener error"));

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, config.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  return {
    port,
    async close(graceMs) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const session of h2Sessions) session.close();
      // HTTP/1.1 has no GOAWAY: close idle keep-alive connections now, busy ones when their
      // last request finishes, and destroy whatever is left after the grace.
      closing = true;
      for (const [socket, inFlight] of h1Active) if (inFlight === 0) socket.end();
      const timer = setTimeout(() => {
        for (const socket of connections) socket.destroy();
      }, graceMs);
      await closed;
      clearTimeout(timer);
    },
  };
}

/**
 * Reads just enough of a new connection to tell HTTP/2 from HTTP/1.1, puts the bytes back,
 * and hands the socket to the matching server. A client that sends nothing is dropped after
 * the headers timeout rather than held forever.
 */
function sniff(socket: net.Socket, h2: http2.Http2Server, h1: http.Server, timeoutMs: number): void {
  let seen: Buffer | undefined;
  const timer = setTimeout(() => socket.destroy(), timeoutMs);
  const onData = (chunk: Buffer) => {
    // (The first read decides almost always: no copy of what may be 64 KiB of request.)
    seen = seen === undefined ? chunk : Buffer.concat([seen, chunk]);
    const n = Math.min(seen.length, h2Preface.length);
    const isPrefix = seen.subarray(0, n).equals(h2Preface.subarray(0, n));
    if (isPrefix && seen.length < h2Preface.length) return; // need more bytes to decide
    clearTimeout(timer);
    socket.off("data", onData);
    socket.off("error", onError);
    socket.pause();
    socket.unshift(seen);
    // Both servers pick up the bytes put back: http reads them through its 'data' listener,
    // http2 feeds the socket's buffered data to its session before reading the handle.
    (isPrefix ? h2 : h1).emit("connection", socket);
    if (!isPrefix) socket.resume();
  };
  const onError = () => {
    clearTimeout(timer);
    socket.destroy();
  };
  socket.on("data", onData);
  socket.on("error", onError);
  socket.once("close", () => clearTimeout(timer));
}

/**
 * A stream the fast path did not take, served as node's HTTP/2 compatibility layer would
 * (lib/internal/http2/compat.js, onServerStream): a request and response made of it, CONNECT
 * refused, `Expect: 100-continue` answered, any other expectation refused.
 */
function serveStream(
  handlers: HttpHandlers,
  stream: http2.ServerHttp2Stream,
  headers: http2.IncomingHttpHeaders,
  rawHeaders: string[],
): void {
  if (handlers.stream(stream, headers)) return;
  const req = new http2.Http2ServerRequest(stream, headers, {}, rawHeaders);
  const res = new http2.Http2ServerResponse(stream);
  if (headers[":method"] === "CONNECT") {
    res.statusCode = http2.constants.HTTP_STATUS_METHOD_NOT_ALLOWED;
    res.end();
    return;
  }
  if (headers.expect !== undefined) {
    if (headers.expect !== "100-continue") {
      res.statusCode = http2.constants.HTTP_STATUS_EXPECTATION_FAILED;
      res.end();
      return;
    }
    res.writeContinue();
  }
  handlers.request(req, res);
}
