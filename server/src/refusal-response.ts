import type * as http2 from "node:http2";
import type { ConnectError } from "@connectrpc/connect";
import { encodeEnvelope } from "@connectrpc/connect/protocol";
import {
  parseContentType as connectContentType,
  createEndStreamSerialization,
  endStreamFlag,
} from "@connectrpc/connect/protocol-connect";
import { parseContentType as grpcContentType, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import {
  parseContentType as grpcWebContentType,
  trailerFlag,
  trailerSerialize,
} from "@connectrpc/connect/protocol-grpc-web";
import type { HttpHandler } from "./http-handler.ts";
import { codeName } from "./interceptors/call-end.ts";
import type { Metrics } from "./metrics.ts";

type NodeRequest = Parameters<HttpHandler>[0];
type NodeResponse = Parameters<HttpHandler>[1];

/** Answers streams a limit refuses before they are built; see createRefusals. */
export interface Refusals {
  /**
   * Answers the stream `req` opens on `path` with `error`, in its protocol's own error form, and
   * counts it; false (nothing answered) for a request it does not recognise, which is then
   * left to connect-node as usual.
   */
  answer(req: NodeRequest, res: NodeResponse, path: string, error: ConnectError): boolean;
}

const endStream = createEndStreamSerialization({});

/**
 * Refusals of streams straight from the request line and headers: gRPC gets a trailers-only
 * response, gRPC-Web a trailer frame, Connect an end-stream message, each as connect-node would
 * write it — without reading the request body or building the call (connect-node's per-call
 * machinery and the interceptors). A refused stream costs the server several times less that
 * way, which is what a client opening thousands of streams it may not hold counts on. Each
 * refusal is counted in rpc_requests_total like any call; none is logged one by one (a flood
 * of refusals must not become a flood of log lines).
 */
export function createRefusals(metrics: Pick<Metrics, "rpc">): Refusals {
  return {
    answer(req, res, path, error) {
      const protocol = write(req, res, error);
      if (!protocol) return false;
      const slash = path.lastIndexOf("/");
      metrics.rpc
        .series({
          service: path.slice(1, slash),
          method: path.slice(slash + 1),
          protocol,
          code: codeName(error),
        })
        .count();
      return true;
    },
  };
}

/** Writes the refusal; the protocol's metrics label, or undefined when it did not (unary Connect, GET, gRPC-Web text, …). */
function write(
  req: NodeRequest,
  res: NodeResponse,
  error: ConnectError,
): "grpc" | "grpc_web" | "connect" | undefined {
  if (req.method !== "POST") return undefined;
  const contentType = req.headers["content-type"] ?? "";
  const trailer = new Headers();
  if (contentType.startsWith("application/grpc-web")) {
    const type = grpcWebContentType(contentType);
    if (!type || type.text) return undefined;
    setTrailerStatus(trailer, error);
    const body = encodeEnvelope(trailerFlag, trailerSerialize(trailer));
    sendEnvelope(req, res, type.binary ? "application/grpc-web+proto" : "application/grpc-web+json", body);
    return "grpc_web";
  }
  if (contentType.startsWith("application/grpc")) {
    const type = grpcContentType(contentType);
    // gRPC rides HTTP/2 only; anything else is connect-node's to refuse.
    if (!type || !("stream" in req)) return undefined;
    // Trailers-only: the status goes in the one HEADERS frame, which also ends the stream.
    setTrailerStatus(trailer, error);
    const headers: http2.OutgoingHttpHeaders = {
      "content-type": type.binary ? "application/grpc+proto" : "application/grpc+json",
    };
    trailer.forEach((value, name) => {
      headers[name] = value;
    });
    send(req, res, 200, headers, undefined);
    return "grpc";
  }
  const type = connectContentType(contentType);
  if (!type?.stream) return undefined;
  const body = encodeEnvelope(endStreamFlag, endStream.serialize({ metadata: error.metadata, error }));
  sendEnvelope(req, res, type.binary ? "application/connect+proto" : "application/connect+json", body);
  return "connect";
}

/** A 200 whose body is the one envelope carrying the refusal (gRPC-Web and Connect streams). */
function sendEnvelope(req: NodeRequest, res: NodeResponse, contentType: string, body: Uint8Array): void {
  send(req, res, 200, { "content-type": contentType, "content-length": String(body.byteLength) }, body);
}

function send(
  req: NodeRequest,
  res: NodeResponse,
  status: number,
  headers: http2.OutgoingHttpHeaders,
  body: Uint8Array | undefined,
): void {
  res.writeHead(status, headers as Record<string, string>);
  if (body) res.end(body);
  else res.end();
  // Whatever the client still sends is read away: an HTTP/2 stream whose request side is never
  // read is never destroyed, and node:http2 counts it against the connection's stream limit
  // until it ends the whole session (maxSessionRejectedStreams); an HTTP/1.1 body left unread
  // would stop the connection from parsing its next request.
  req.resume();
}
