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

type NodeRequest = Parameters<HttpHandler>[0];
type NodeResponse = Parameters<HttpHandler>[1];

const endStream = createEndStreamSerialization({});

/**
 * Answers a streaming call with `error` straight from the request line and headers, in its
 * protocol's own error form (gRPC: a trailers-only response; gRPC-Web: a trailer frame;
 * Connect: an end-stream message), without reading the request body or building the call in
 * connect-node: refusing a stream there costs more than serving most calls, which is what a
 * client opening thousands of streams it may not hold counts on. Returns false, answering
 * nothing, for anything it does not recognise (connect-node then answers it as usual).
 */
export function answerStreamRefused(req: NodeRequest, res: NodeResponse, error: ConnectError): boolean {
  if (req.method !== "POST") return false;
  const contentType = req.headers["content-type"] ?? "";
  const trailer = new Headers();
  setTrailerStatus(trailer, error);
  if (contentType.startsWith("application/grpc-web")) {
    const type = grpcWebContentType(contentType);
    if (!type || type.text) return false;
    const body = encodeEnvelope(trailerFlag, trailerSerialize(trailer));
    return send(
      req,
      res,
      {
        "content-type": type.binary ? "application/grpc-web+proto" : "application/grpc-web+json",
        "content-length": String(body.byteLength),
      },
      body,
    );
  }
  if (contentType.startsWith("application/grpc")) {
    const type = grpcContentType(contentType);
    // gRPC rides HTTP/2 only; anything else is connect-node's to refuse.
    if (!type || !("stream" in req)) return false;
    const headers: http2.OutgoingHttpHeaders = {
      "content-type": type.binary ? "application/grpc+proto" : "application/grpc+json",
    };
    // Trailers-only: the status goes in the one HEADERS frame, which also ends the stream.
    trailer.forEach((value, name) => {
      headers[name] = value;
    });
    return send(req, res, headers, undefined);
  }
  const type = connectContentType(contentType);
  if (!type?.stream) return false;
  const body = encodeEnvelope(endStreamFlag, endStream.serialize({ metadata: error.metadata, error }));
  return send(
    req,
    res,
    {
      "content-type": type.binary ? "application/connect+proto" : "application/connect+json",
      "content-length": String(body.byteLength),
    },
    body,
  );
}

function send(
  req: NodeRequest,
  res: NodeResponse,
  headers: http2.OutgoingHttpHeaders,
  body: Uint8Array | undefined,
): true {
  res.writeHead(200, headers as Record<string, string>);
  if (body) res.end(body);
  else res.end();
  // Whatever the client still sends is read away: an HTTP/2 stream whose request side is never
  // read is never destroyed, and node:http2 counts it against the connection's stream limit
  // until it ends the whole session (maxSessionRejectedStreams).
  req.resume();
  return true;
}
