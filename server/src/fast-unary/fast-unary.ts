import type * as http from "node:http";
import type * as http2 from "node:http2";
import type { DescMessage, DescMethodUnary } from "@bufbuild/protobuf";
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
  invokeUnaryImplementation,
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
import type { HttpHandler } from "../http-handler.ts";
import { LightHeaders } from "./light-headers.ts";

type NodeRequest = Parameters<HttpHandler>[0];
type NodeResponse = Parameters<HttpHandler>[1];
type Serialization = MethodSerializationLookup<DescMessage, DescMessage>;

/** A unary method and the service implementation's function for it. */
export interface UnaryRoute {
  method: DescMethodUnary;
  impl: (request: never, context: HandlerContext) => unknown;
}

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
  contextValues: (req: NodeRequest) => ContextValues;
}

/**
 * Serves the common unary calls — gRPC over HTTP/2 and Connect unary (binary or JSON) over
 * HTTP/1.1 or HTTP/2, POST, request uncompressed — without connect-node's per-call machinery
 * (an async-iterable pipeline per call, a linked AbortController aborted with a DOMException
 * when every call ends, three platform Headers objects, a universal request/response
 * translation). It runs the same service implementations through the same interceptors via
 * connect's own invokeUnaryImplementation, and writes the answer with connect's own
 * serialization, error and status helpers, so the wire format is the same. Everything else
 * (streams, gRPC-Web, GET, compressed requests, anything unusual) is left to connect-node:
 * the decision is made from the request line and headers alone, before any byte of the body
 * is read.
 *
 * Returns a function that takes a request and returns true when it has taken it.
 */
export function createFastUnary(opts: FastUnaryOptions): (req: NodeRequest, res: NodeResponse) => boolean {
  const serializations = new Map<DescMethodUnary, Serialization>();
  for (const { method } of opts.routes.values()) {
    serializations.set(
      method,
      createMethodSerializationLookup(method, undefined, undefined, {
        readMaxBytes: opts.readMaxBytes,
        writeMaxBytes: opts.writeMaxBytes,
      }),
    );
  }
  const maxTimeoutMs = opts.maxTimeoutMs ?? Number.MAX_SAFE_INTEGER;

  return (req, res) => {
    if (req.method !== "POST") return false;
    const route = opts.routes.get(req.url ?? "");
    if (!route) return false;
    const contentType = req.headers["content-type"];
    if (contentType === undefined) return false;
    const h2 = "stream" in req;
    let call: CallShape;
    if (contentType.startsWith("application/grpc")) {
      // gRPC needs HTTP/2; gRPC-Web (application/grpc-web…) is left to connect-node.
      const type = grpcContentType(contentType);
      if (!h2 || !type) return false;
      const encoding = req.headers["grpc-encoding"];
      if (encoding !== undefined && encoding !== "identity") return false;
      call = {
        protocol: "grpc",
        binary: type.binary,
        timeout: grpcTimeout(header(req.headers["grpc-timeout"]), maxTimeoutMs),
        accept: header(req.headers["grpc-accept-encoding"]),
        acceptName: "grpc-accept-encoding",
      };
    } else {
      const type = connectContentType(contentType);
      if (!type || type.stream) return false;
      const encoding = req.headers["content-encoding"];
      if (encoding !== undefined && encoding !== "identity") return false;
      call = {
        protocol: "connect",
        binary: type.binary,
        timeout: connectTimeout(header(req.headers["connect-timeout-ms"]), maxTimeoutMs),
        accept: header(req.headers["accept-encoding"]),
        acceptName: "accept-encoding",
      };
    }
    const serialization = serializations.get(route.method);
    if (!serialization) return false;
    void serve(opts, route, serialization, call, req, res);
    return true;
  };
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
  route: UnaryRoute,
  serialization: Serialization,
  call: CallShape,
  req: NodeRequest,
  res: NodeResponse,
): Promise<void> {
  const { method } = route;
  const controller = new AbortController();
  let answered = false;
  // The signal aborts only if the call is cut short: the client left, or the deadline
  // passed. (connect-node aborts it at the end of every call, building a DOMException each time.)
  const onClose = () => {
    if (!answered) controller.abort(new ConnectError("the client went away", Code.Canceled));
  };
  res.once("close", onClose);
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
    requestHeader: new LightHeaders(req.headers),
    responseHeader,
    responseTrailer,
    protocolName: call.protocol,
    values: opts.contextValues(req),
    url: requestUrl(req),
  };
  const compression = compressionNegotiate(opts.acceptCompression, null, call.accept, call.acceptName);
  try {
    if (call.timeout.error) throw call.timeout.error;
    const body = await readBody(req, opts.readMaxBytes, call.protocol === "grpc");
    const input =
      call.protocol === "grpc"
        ? serialization.getI(call.binary).parse(unwrapEnvelope(body, opts.readMaxBytes))
        : serialization.getI(call.binary).parse(body);
    const output = await invokeUnaryImplementation(
      { kind: "unary", method, impl: route.impl as never },
      context,
      input,
      opts.interceptors,
    );
    let bytes = serialization.getO(call.binary).serialize(output);
    let encoding: string | undefined;
    if (compression.response && bytes.byteLength >= opts.compressMinBytes) {
      bytes = await compression.response.compress(bytes);
      encoding = compression.response.name;
    }
    answered = true;
    if (call.protocol === "grpc") writeGrpc(res, call.binary, context, bytes, encoding);
    else writeConnect(req, res, 200, call.binary, context, bytes, encoding);
  } catch (e) {
    answered = true;
    const error =
      e instanceof ConnectError
        ? e
        : new ConnectError("internal error", Code.Internal, undefined, undefined, e);
    if (call.protocol === "grpc") {
      writeGrpcError(res, call.binary, context, error);
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
      writeConnect(req, res, codeToHttpStatus(error.code), false, context, bytes, encoding);
    }
  } finally {
    clearTimeout(timer);
    res.off("close", onClose);
  }
}

function header(value: string | string[] | undefined): string | null {
  if (value === undefined) return null;
  return Array.isArray(value) ? value.join(", ") : value;
}

function requestUrl(req: NodeRequest): string {
  const encrypted = "encrypted" in req.socket && (req.socket as { encrypted?: boolean }).encrypted;
  const authority = ("authority" in req ? req.authority : undefined) ?? req.headers.host ?? "localhost";
  return `${encrypted ? "https" : "http"}://${authority}${req.url ?? ""}`;
}

/**
 * The whole request body, refused as early as possible when its message is larger than
 * `readMaxBytes`: from content-length, from a gRPC envelope's length prefix, or as it arrives.
 */
function readBody(req: NodeRequest, readMaxBytes: number, enveloped: boolean): Promise<Uint8Array> {
  const maxBytes = enveloped ? readMaxBytes + 5 : readMaxBytes;
  return new Promise((resolve, reject) => {
    const declared = enveloped ? undefined : req.headers["content-length"];
    if (declared !== undefined && Number(declared) > maxBytes) {
      req.resume();
      reject(
        new ConnectError(
          `message size ${declared} is larger than configured readMaxBytes ${maxBytes}`,
          Code.ResourceExhausted,
        ),
      );
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let checkedPrefix = !enveloped;
    const onData = (chunk: Buffer) => {
      size += chunk.byteLength;
      if (!checkedPrefix && size >= 5) {
        checkedPrefix = true;
        const head = chunks.length === 0 ? chunk : Buffer.concat([...chunks, chunk]);
        const length = head.readUInt32BE(1);
        if (length > readMaxBytes) {
          cleanup();
          req.resume();
          reject(
            new ConnectError(
              `message size ${length} is larger than configured readMaxBytes ${readMaxBytes}`,
              Code.ResourceExhausted,
            ),
          );
          return;
        }
      }
      if (size > maxBytes) {
        cleanup();
        req.resume();
        reject(
          new ConnectError(
            `message size is larger than configured readMaxBytes ${maxBytes}`,
            Code.ResourceExhausted,
          ),
        );
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
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onAbort);
      req.off("aborted", onAbort);
    };
    req.on("data", onData);
    req.once("end", onEnd);
    req.once("error", onAbort);
    req.once("aborted", onAbort);
  });
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

function writeGrpc(
  res: NodeResponse,
  binary: boolean,
  context: HandlerContext,
  bytes: Uint8Array,
  encoding: string | undefined,
): void {
  const h2 = res as http2.Http2ServerResponse;
  if (h2.stream.destroyed || h2.stream.closed) return;
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
  // The compatibility response sends its trailers when the stream wants them.
  h2.writeHead(200, headers);
  h2.addTrailers(trailers);
  h2.end(frame);
}

function writeGrpcError(
  res: NodeResponse,
  binary: boolean,
  context: HandlerContext,
  error: ConnectError,
): void {
  const h2 = res as http2.Http2ServerResponse;
  if (h2.stream.destroyed || h2.stream.closed) return;
  // As connect-node answers: headers, then the status (and the error's metadata) in trailers.
  setTrailerStatus(context.responseTrailer, error);
  const headers: Record<string, string> = {};
  (context.responseHeader as LightHeaders).copyTo(headers);
  headers["content-type"] = binary ? "application/grpc+proto" : "application/grpc+json";
  const trailers: Record<string, string> = {};
  (context.responseTrailer as LightHeaders).copyTo(trailers);
  h2.writeHead(200, headers);
  h2.addTrailers(trailers);
  h2.end();
}

function writeConnect(
  req: NodeRequest,
  res: NodeResponse,
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
  if ("stream" in req) {
    const stream = req.stream;
    if (stream.destroyed || stream.closed) return;
    headers[":status"] = String(status);
    stream.respond(headers, { endStream: false });
    stream.end(bytes);
    return;
  }
  const h1 = res as http.ServerResponse;
  if (h1.destroyed) return;
  h1.writeHead(status, headers);
  h1.end(bytes);
}
