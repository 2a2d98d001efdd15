import type * as http from "node:http";
import type { HttpHandler } from "./http-handler.ts";

/**
 * Answers a request for a procedure that does not exist in the language of the protocol the
 * client speaks, so no client is left guessing from a bare 404: gRPC and gRPC-Web get a
 * trailers-only response with grpc-status 12 (UNIMPLEMENTED), Connect gets its JSON error.
 */
export const answerUnimplemented: HttpHandler = (req, response) => {
  // Both response kinds share writeHead(status, headers); the union type hides it.
  const res = response as http.ServerResponse;
  const path = (req.url ?? "/").split("?")[0] ?? "/";
  const message = `unknown procedure ${path}`;
  const contentType = String(req.headers["content-type"] ?? "");
  // Drain the request body so an HTTP/1.1 connection can be reused.
  req.resume();
  if (contentType.startsWith("application/grpc")) {
    const headers = {
      "content-type": contentType.split(";")[0] ?? "application/grpc",
      "grpc-status": "12",
      "grpc-message": encodeURIComponent(message),
    };
    if ("stream" in req) {
      // Trailers-Only: one HEADERS frame that also ends the stream. The compat response would
      // send the headers, then an empty DATA frame, which gRPC clients read as no status.
      req.stream.respond({ ":status": 200, ...headers }, { endStream: true });
      return;
    }
    res.writeHead(200, headers);
    res.end();
    return;
  }
  res.writeHead(404, { "content-type": "application/json" });
  res.end(JSON.stringify({ code: "unimplemented", message }));
};
