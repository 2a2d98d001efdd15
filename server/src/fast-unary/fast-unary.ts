import type * as http from "node:http";
import type * as http2 from "node:http2";
import type { DescMessage, DescMethodUnary, MessageShape } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type ContextValues,
  type HandlerContext,
  type Interceptor,
} from "@connectrpc/connect";
import {
  type Compression,
  compressionNegotiate,
  createMethodSerializationLookup,
  type MethodSerializationLookup,
  mergeNonProtocolHeaders,
} from "@connectrpc/connect/protocol";
import {
  codeToHttpStatus,
  parseContentType as connectContentType,
  parseTimeout as connectTimeout,
  errorToJsonBytes,
} from "@connectrpc/connect/protocol-connect";
import {
  parseContentType as grpcContentType,
  parseTimeout as grpcTimeout,
  setTrailerStatus,
} from "@connectrpc/connect/protocol-grpc";
import type { CallOrigin } from "../call-control.ts";
import type { HttpHandler } from "../http-handler.ts";
import { serializeShared } from "../shared-messages.ts";
import { requestExchange, streamExchange, type UnaryExchange } from "./exchange.ts";
import { LightHeaders } from "./light-headers.ts";
import { composeUnary, type UnaryChain, type UnaryRoute } from "./unary-chain.ts";

export type { UnaryRoute } from "./unary-chain.ts";

type NodeRequest = Parameters<HttpHandler>[0];
type NodeResponse = Parameters<HttpHandler>[1];
type Serialization = MethodSerializationLookup<DescMessage, DescMessage>;

export interface FastUnaryOptions {
  /** Unary methods by request path ("/pkg.Service/Method"). */
  routes: ReadonlyMap<string, UnaryRoute>;
  /** The same interceptors, in the same order, as the connect-node adapter's. */
  interceptors: Interceptor[];
  readMaxBytes: number;
  writeMaxBytes: number;
  /** Longest timeout a client may ask for; undefined: any. */
  maxTimeoutMs: number | undefined;
  /** Response compression on offer, as for the adapter (connect-node's default: gzip, br). */
  acceptCompression: Compression[];
  /** Responses smaller than this are sent uncompressed (connect's default: 1 KiB). */
  compressMinBytes: number;
  contextValues: (origin: CallOrigin) => ContextValues;
}

export interface FastUnary {
  /**
   * A bare HTTP/2 stream (node's `stream` event): a function that serves it when it is a call
   * this path takes, else undefined (node's compatibility layer and connect-node take it).
   */
  stream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): (() => void) | undefined;
  /** An HTTP/1.1 request: true when this path has taken it. */
  request(req: NodeRequest, res: NodeResponse): boolean;
}

/**
 * Serves the common unary calls — gRPC over HTTP/2 and Connect unary (binary or JSON) over
 * HTTP/1.1 or HTTP/2, POST, request uncompressed — without connect-node's per-call machinery
 * (an async-iterable pipeline per call, a linked AbortController aborted with a DOMException
 * when every call ends, three platform Headers objects, a universal request/response
 * translation) and, on HTTP/2, without node's compatibility request and response objects.
 * It runs the same service implementations through the same interceptors, composed once per
 * method (unary-chain.ts), and writes the answer with connect's own serialization, error and
 * status helpers, so the wire format is the same. Everything else (streams, gRPC-Web,
 * GET, compressed requests, cross-origin browser calls, anything unusual) is left to
 * connect-node: the decision is made from the request line and headers alone, before any
 * byte of the body is read.
 */
export function createFastUnary(opts: FastUnaryOptions): FastUnary {
  // Per method, once: its serialization, and its implementation inside the interceptors.
  const prepared = new Map<string, Prepared>();
  for (const [path, route] of opts.routes) {
    const serialization = createMethodSerializationLookup(route.method, undefined, undefined, {
      readMaxBytes: opts.readMaxBytes,
      writeMaxBytes: opts.writeMaxBytes,
    });
    const serializer = (binary: boolean) => {
      const o = serialization.getO(binary);
      return serializeShared((m: MessageShape<DescMessage>) => o.serialize(m));
    };
    prepared.set(path, {
      method: route.method,
      serialization,
      serializeBinary: serializer(true),
      serializeJson: serializer(false),
      chain: composeUnary(route, opts.interceptors),
    });
  }
  const maxTimeoutMs = opts.maxTimeoutMs ?? Number.MAX_SAFE_INTEGER;

  /** The route and call shape of a request this path takes, from its headers alone. */
  const classify = (
    method: string | undefined,
    path: string | undefined,
    headers: http.IncomingHttpHeaders,
    h2: boolean,
  ): { route: Prepared; call: CallShape } | undefined => {
    if (method !== "POST") return undefined;
    const route = prepared.get(path ?? "");
    if (!route) return undefined;
    const contentType = headers["content-type"];
    if (contentType === undefined) return undefined;
    if (contentType.startsWith("application/grpc")) {
      // gRPC needs HTTP/2; gRPC-Web (application/grpc-web…) is left to connect-node.
      const type = grpcContentType(contentType);
      if (!h2 || !type) return undefined;
      const encoding = headers["grpc-encoding"];
      if (encoding !== undefined && encoding !== "identity") return undefined;
      return {
        route,
        call: {
          protocol: "grpc",
          binary: type.binary,
          timeout: grpcTimeout(header(headers["grpc-timeout"]), maxTimeoutMs),
          accept: header(headers["grpc-accept-encoding"]),
          acceptName: "grpc-accept-encoding",
        },
      };
    }
    const type = connectContentType(contentType);
    if (!type || type.stream) return undefined;
    const encoding = headers["content-encoding"];
    if (encoding !== undefined && encoding !== "identity") return undefined;
    return {
      route,
      call: {
        protocol: "connect",
        binary: type.binary,
        timeout: connectTimeout(header(headers["connect-timeout-ms"]), maxTimeoutMs),
        accept: header(headers["accept-encoding"]),
        acceptName: "accept-encoding",
      },
    };
  };

  return {
    stream(stream, headers) {
      // A browser's cross-origin call needs CORS headers: the ordinary path adds them.
      if (headers.origin !== undefined) return undefined;
      const taken = classify(headers[":method"], headers[":path"], headers, true);
      if (!taken) return undefined;
      // From now on the stream is ours: a stream error (the client reset it with an error code,
      // even while the call waits its turn) must find a listener, or node throws it and the
      // process dies. The call sees the reset as 'close'.
      stream.on("error", ignoreStreamError);
      return () => void serve(opts, taken.route, taken.call, streamExchange(stream, headers));
    },
    request(req, res) {
      if ("stream" in req) return false;
      const taken = classify(req.method, req.url, req.headers, false);
      if (!taken) return false;
      void serve(opts, taken.route, taken.call, requestExchange(req, res as http.ServerResponse));
      return true;
    },
  };
}

/** A unary method made ready for calls. */
interface Prepared {
  method: DescMethodUnary;
  serialization: Serialization;
  /** The output's serializers, remembering the bytes of shared messages (shared-messages.ts). */
  serializeBinary: (message: MessageShape<DescMessage>) => Uint8Array;
  serializeJson: (message: MessageShape<DescMessage>) => Uint8Array;
  chain: UnaryChain;
}

interface CallShape {
  protocol: "grpc" | "connect";
  binary: boolean;
  timeout: { timeoutMs?: number; error?: ConnectError };
  accept: string | null;
  acceptName: string;
}

async function serve(
  opts: FastUnaryOptions,
  route: Prepared,
  call: CallShape,
  exchange: UnaryExchange,
): Promise<void> {
  const { method, serialization } = route;
  const controller = new AbortController();
  let answered = false;
  // The signal aborts only if the call is cut short: the client left, or the deadline
  // passed. (connect-node aborts it at the end of every call, building a DOMException each time.)
  const onClose = () => {
    if (!answered) controller.abort(new ConnectError("the client went away", Code.Canceled));
  };
  exchange.onClose(onClose);
  let timer: NodeJS.Timeout | undefined;
  let deadline: number | undefined;
  if (call.timeout.timeoutMs !== undefined && call.timeout.error === undefined) {
    deadline = Date.now() + call.timeout.timeoutMs;
    timer = setTimeout(
      () => controller.abort(new ConnectError("the operation timed out", Code.DeadlineExceeded)),
      call.timeout.timeoutMs,
    );
  }
  const responseHeader = new LightHeaders();
  const responseTrailer = new LightHeaders();
  const context: HandlerContext = {
    method,
    service: method.parent,
    signal: controller.signal,
    timeoutMs: () => (deadline === undefined ? undefined : deadline - Date.now()),
    requestMethod: "POST",
    requestHeader: new LightHeaders(exchange.headers),
    responseHeader,
    responseTrailer,
    protocolName: call.protocol,
    values: opts.contextValues(exchange),
    url: exchange.url(),
  };
  const compression = compressionNegotiate(opts.acceptCompression, null, call.accept, call.acceptName);
  try {
    if (call.timeout.error) throw call.timeout.error;
    const body = await exchange.body(opts.readMaxBytes, call.protocol === "grpc");
    const input =
      call.protocol === "grpc"
        ? serialization.getI(call.binary).parse(unwrapEnvelope(body, opts.readMaxBytes))
        : serialization.getI(call.binary).parse(body);
    const output = await route.chain(context, input);
    let bytes = call.binary ? route.serializeBinary(output) : route.serializeJson(output);
    let encoding: string | undefined;
    if (compression.response && bytes.byteLength >= opts.compressMinBytes) {
      bytes = await compression.response.compress(bytes);
      encoding = compression.response.name;
    }
    answered = true;
    if (call.protocol === "grpc") answerGrpc(exchange, call.binary, context, bytes, encoding);
    else answerConnect(exchange, 200, call.binary, context, bytes, encoding);
  } catch (e) {
    answered = true;
    const error =
      e instanceof ConnectError
        ? e
        : new ConnectError("internal error", Code.Internal, undefined, undefined, e);
    if (call.protocol === "grpc") {
      answerGrpcError(exchange, call.binary, context, error);
    } else {
      // Connect errors are JSON bodies, compressed by the same rule as any other.
      context.responseHeader.set("content-type", "application/json");
      if (!error.isWireError) mergeNonProtocolHeaders(context.responseHeader, error.metadata);
      let bytes = errorToJsonBytes(error, {});
      let encoding: string | undefined;
      if (compression.response && bytes.byteLength >= opts.compressMinBytes) {
        bytes = await compression.response.compress(bytes);
        encoding = compression.response.name;
      }
      answerConnect(exchange, codeToHttpStatus(error.code), false, context, bytes, encoding);
    }
  } finally {
    clearTimeout(timer);
    exchange.offClose(onClose);
  }
}

function ignoreStreamError(): void {}

function header(value: string | string[] | undefined): string | null {
  if (value === undefined) return null;
  return Array.isArray(value) ? value.join(", ") : value;
}

/** The one message of a gRPC unary request: exactly one uncompressed envelope. */
function unwrapEnvelope(body: Uint8Array, readMaxBytes: number): Uint8Array {
  if (body.byteLength === 0) {
    throw new ConnectError(`protocol error: missing input message for unary method`, Code.Unimplemented);
  }
  if (body.byteLength < 5)
    throw new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument);
  const flags = body[0] ?? 0;
  const length = ((body[1] ?? 0) << 24) | ((body[2] ?? 0) << 16) | ((body[3] ?? 0) << 8) | (body[4] ?? 0);
  if (length >>> 0 > readMaxBytes) {
    throw new ConnectError(
      `message size ${length >>> 0} is larger than configured readMaxBytes ${readMaxBytes}`,
      Code.ResourceExhausted,
    );
  }
  if (body.byteLength < 5 + length)
    throw new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument);
  if (body.byteLength > 5 + length) {
    throw new ConnectError(
      `protocol error: received extra input message for unary method`,
      Code.Unimplemented,
    );
  }
  if ((flags & 0b1) === 0b1) {
    // The request said it was not compressed (no grpc-encoding), yet the flag says it is.
    throw new ConnectError("received compressed envelope, but do not know how to decompress", Code.Internal);
  }
  return body.subarray(5, 5 + length);
}

function answerGrpc(
  exchange: UnaryExchange,
  binary: boolean,
  context: HandlerContext,
  bytes: Uint8Array,
  encoding: string | undefined,
): void {
  const headers: Record<string, string> = {};
  (context.responseHeader as LightHeaders).copyTo(headers);
  headers["content-type"] = binary ? "application/grpc+proto" : "application/grpc+json";
  if (encoding) headers["grpc-encoding"] = encoding;
  const trailers: Record<string, string> = {};
  (context.responseTrailer as LightHeaders).copyTo(trailers);
  trailers["grpc-status"] = "0";
  const frame = Buffer.allocUnsafe(5 + bytes.byteLength);
  frame[0] = encoding ? 1 : 0;
  frame.writeUInt32BE(bytes.byteLength, 1);
  frame.set(bytes, 5);
  exchange.answerGrpc(headers, frame, trailers);
}

function answerGrpcError(
  exchange: UnaryExchange,
  binary: boolean,
  context: HandlerContext,
  error: ConnectError,
): void {
  // As connect-node answers: headers, then the status (and the error's metadata) in trailers.
  setTrailerStatus(context.responseTrailer, error);
  const headers: Record<string, string> = {};
  (context.responseHeader as LightHeaders).copyTo(headers);
  headers["content-type"] = binary ? "application/grpc+proto" : "application/grpc+json";
  const trailers: Record<string, string> = {};
  (context.responseTrailer as LightHeaders).copyTo(trailers);
  exchange.answerGrpc(headers, undefined, trailers);
}

function answerConnect(
  exchange: UnaryExchange,
  status: number,
  binary: boolean,
  context: HandlerContext,
  bytes: Uint8Array,
  encoding: string | undefined,
): void {
  const headers: Record<string, string> = {};
  (context.responseHeader as LightHeaders).copyTo(headers);
  (context.responseTrailer as LightHeaders).copyTo(headers, "trailer-");
  headers["content-type"] ??= binary ? "application/proto" : "application/json";
  if (encoding) headers["content-encoding"] = encoding;
  headers["content-length"] = String(bytes.byteLength);
  exchange.answerConnect(status, headers, bytes);
}
