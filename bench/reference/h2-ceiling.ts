// Reference: the ceiling. A bare node:http2 (h2c) server that reads each request to its end,
// checks the bearer token and answers with the pre-encoded GetUserResponse: as gRPC (length-
// prefixed frame, grpc-status trailer) for content-type application/grpc*, and as a Connect
// unary response (the message as the body) for application/proto. No decoding, no lookup,
// no per-call objects beyond what node:http2 makes: what a Node server cannot beat.
//
//   BENCH_TOKEN=… BENCH_USER_BINARY=<base64> PORT=… node bench/reference/h2-ceiling.ts
import { createServer, type IncomingHttpHeaders, type ServerHttp2Stream } from "node:http2";
import type { AddressInfo } from "node:net";
import { announce, expectedAuthorization, portFromEnv, tally, userResponseBinary } from "./shared.ts";

const message = userResponseBinary();
const grpcFrame = Buffer.alloc(5 + message.length);
grpcFrame.writeUInt32BE(message.length, 1);
grpcFrame.set(message, 5);
const connectBody = Buffer.from(message);
const path = "/switchboard.v1.UserService/GetUser";

const server = createServer({ settings: { maxConcurrentStreams: 100 } });
server.on("stream", (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
  stream.on("error", () => {});
  stream.resume();
  stream.on("end", () => {
    const contentType = String(headers["content-type"] ?? "");
    const authorized = headers.authorization === expectedAuthorization && headers[":path"] === path;
    if (contentType.startsWith("application/grpc")) {
      stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
      stream.once("wantTrailers", () =>
        stream.sendTrailers(authorized ? { "grpc-status": "0" } : { "grpc-status": "16" }),
      );
      if (authorized) {
        tally.ok++;
        stream.end(grpcFrame);
      } else {
        tally.failed++;
        stream.end();
      }
    } else if (contentType === "application/proto" && authorized) {
      tally.ok++;
      stream.respond({ ":status": 200, "content-type": "application/proto" });
      stream.end(connectBody);
    } else {
      tally.failed++;
      stream.respond({ ":status": authorized ? 415 : 401 });
      stream.end();
    }
  });
});
server.listen(portFromEnv(), "127.0.0.1", () => {
  announce((server.address() as AddressInfo).port);
});
