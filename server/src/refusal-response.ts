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
  /**
   * The same for a bare HTTP/2 stream, as it arrives: no request and response objects are made
   * for it, and it never waits in the dispatcher's queue (so a flood of refused streams is not
   * a heap of live objects every garbage collection has to walk).
   */
  answerStream(
    stream: http2.ServerHttp2Stream,
    headers: http2.IncomingHttpHeaders,
    path: string,
    error: ConnectError,
  ): boolean;
}

/** A refusal as it goes on the wire: the same for every stream of one content type and error. */
interface Refusal {
  protocol: "grpc" | "grpc_web" | "connect";
  headers: Record<string, string>;
  /** The one envelope of gRPC-Web and Connect; gRPC's is trailers-only (no body). */
  body: Uint8Array | undefined;
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
  const count = (path: string, refusal: Refusal, error: ConnectError) => {
    const slash = path.lastIndexOf("/");
    metrics.rpc
      .series({
        service: path.slice(1, slash),
        method: path.slice(slash + 1),
        protocol: refusal.protocol,
        code: codeName(error),
      })
      .count();
  };
  // Refusals are the same bytes each time for one error and content type: made once. Few
  // content types are valid, but the header is the client's, so the memo is bounded.
  const made = new WeakMap<ConnectError, Map<string, Refusal | undefined>>();
  const refusalFor = (contentType: string, h2: boolean, error: ConnectError) => {
    let byType = made.get(error);
    if (!byType) {
      byType = new Map();
      made.set(error, byType);
    }
    const key = h2 ? contentType : `h1 ${contentType}`;
    if (byType.has(key)) return byType.get(key);
    const refusal = refusalOf(contentType, h2, error);
    if (byType.size < 32) byType.set(key, refusal);
    return refusal;
  };
  return {
    answer(req, res, path, error) {
      if (req.method !== "POST") return false;
      const refusal = refusalFor(req.headers["content-type"] ?? "", "stream" in req, error);
      if (!refusal) return false;
      res.writeHead(200, refusal.headers);
      if (refusal.body) res.end(refusal.body);
      else res.end();
      // Whatever the client still sends is read away: an HTTP/2 stream whose request side is
      // never read is never destroyed, and node:http2 counts it against the connection's stream
      // limit until it ends the whole session (maxSessionRejectedStreams); an HTTP/1.1 body
      // left unread would stop the connection from parsing its next request.
      req.resume();
      count(path, refusal, error);
      return true;
    },
    answerStream(stream, headers, path, error) {
      if (headers[":method"] !== "POST") return false;
      const refusal = refusalFor(headers["content-type"] ?? "", true, error);
      if (!refusal) return false;
      // A client may reset the stream with an error code before it is answered: node emits
      // that as an 'error', which must not go unheard.
      stream.on("error", ignore);
      if (!stream.destroyed && !stream.closed) {
        if (refusal.body) {
          stream.respond({ ":status": 200, ...refusal.headers });
          stream.end(refusal.body);
        } else {
          stream.respond({ ":status": 200, ...refusal.headers }, { endStream: true });
        }
      }
      stream.resume();
      count(path, refusal, error);
      return true;
    },
  };
}

const ignore = () => {};

/** The refusal for a request of `contentType`; undefined when this does not answer it (unary Connect, gRPC-Web text, gRPC over HTTP/1.1, …). */
function refusalOf(contentType: string, h2: boolean, error: ConnectError): Refusal | undefined {
  const trailer = new Headers();
  if (contentType.startsWith("application/grpc-web")) {
    const type = grpcWebContentType(contentType);
    if (!type || type.text) return undefined;
    setTrailerStatus(trailer, error);
    const body = encodeEnvelope(trailerFlag, trailerSerialize(trailer));
    return enveloped(
      "grpc_web",
      type.binary ? "application/grpc-web+proto" : "application/grpc-web+json",
      body,
    );
  }
  if (contentType.startsWith("application/grpc")) {
    const type = grpcContentType(contentType);
    // gRPC rides HTTP/2 only; anything else is connect-node's to refuse.
    if (!type || !h2) return undefined;
    // Trailers-only: the status goes in the one HEADERS frame, which also ends the stream.
    setTrailerStatus(trailer, error);
    const headers: Record<string, string> = {
      "content-type": type.binary ? "application/grpc+proto" : "application/grpc+json",
    };
    trailer.forEach((value, name) => {
      headers[name] = value;
    });
    return { protocol: "grpc", headers, body: undefined };
  }
  const type = connectContentType(contentType);
  if (!type?.stream) return undefined;
  const body = encodeEnvelope(endStreamFlag, endStream.serialize({ metadata: error.metadata, error }));
  return enveloped("connect", type.binary ? "application/connect+proto" : "application/connect+json", body);
}

/** A 200 whose body is the one envelope carrying the refusal (gRPC-Web and Connect streams). */
function enveloped(protocol: Refusal["protocol"], contentType: string, body: Uint8Array): Refusal {
  return {
    protocol,
    headers: { "content-type": contentType, "content-length": String(body.byteLength) },
    body,
  };
}
