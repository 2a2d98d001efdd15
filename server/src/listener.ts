import { readFileSync } from "node:fs";
import * as http from "node:http";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import * as net from "node:net";
import type { Config } from "./config.ts";
import type { HttpHandler } from "./http-handler.ts";
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
  handler: HttpHandler,
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

  let server: net.Server;
  let h1: http.Server;
  if (config.tls) {
    const secure = http2.createSecureServer(
      {
        ...h2Options,
        allowHTTP1: true,
        cert: readFileSync(config.tls.cert),
        key: readFileSync(config.tls.key),
        ALPNProtocols: ["h2", "http/1.1"],
      },
      handler as unknown as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void,
    );
    secure.on("session", onSession);
    server = secure;
    h1 = secure as unknown as http.Server;
  } else {
    const h2 = http2.createServer(
      h2Options,
      handler as unknown as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void,
    );
    h2.on("session", onSession);
    h1 = http.createServer(
      { headersTimeout: config.headersTimeoutMs, requestTimeout: 0 },
      handler as (req: http.IncomingMessage, res: http.ServerResponse) => void,
    );
    h1.keepAliveTimeout = 65_000;
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
  if (!config.tls) {
    // (With TLS, HTTP/1.1 rides the HTTP/2 server, and the grace timer ends what is left.)
    h1.on("request", trackH1);
    h1.on("connection", (socket: net.Socket) => {
      h1Active.set(socket, 0);
      socket.once("close", () => h1Active.delete(socket));
    });
  }
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
  let seen = Buffer.alloc(0);
  const timer = setTimeout(() => socket.destroy(), timeoutMs);
  const onData = (chunk: Buffer) => {
    seen = Buffer.concat([seen, chunk]);
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
