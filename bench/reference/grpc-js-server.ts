// Reference: a @grpc/grpc-js server answering UserService/GetUser for the bench user, doing
// the work a cache hit does in Switchboard: decode the request, check the bearer token, look
// the user up in an in-memory Map, encode the same GetUserResponse (@bufbuild/protobuf with
// the generated schema from gen/, so the bytes are Switchboard's).
//
//   BENCH_TOKEN=… BENCH_USER_BINARY=<base64> PORT=… node bench/reference/grpc-js-server.ts
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import {
  type GetUserRequest,
  GetUserRequestSchema,
  type GetUserResponse,
  GetUserResponseSchema,
  type User,
} from "../../gen/switchboard/v1/user_pb.js";
import { announce, expectedAuthorization, portFromEnv, tally, userResponseBinary } from "./shared.ts";

const { user } = fromBinary(GetUserResponseSchema, userResponseBinary());
if (!user) throw new Error("BENCH_USER_BINARY holds no user");
const users = new Map<string, User>([[user.id, user]]);

const definition: grpc.ServiceDefinition = {
  GetUser: {
    path: "/switchboard.v1.UserService/GetUser",
    requestStream: false,
    responseStream: false,
    requestSerialize: (m: GetUserRequest) => Buffer.from(toBinary(GetUserRequestSchema, m)),
    requestDeserialize: (b: Buffer) => fromBinary(GetUserRequestSchema, b),
    responseSerialize: (m: GetUserResponse) => Buffer.from(toBinary(GetUserResponseSchema, m)),
    responseDeserialize: (b: Buffer) => fromBinary(GetUserResponseSchema, b),
  },
};

const server = new grpc.Server();
server.addService(definition, {
  GetUser(
    call: grpc.ServerUnaryCall<GetUserRequest, GetUserResponse>,
    callback: grpc.sendUnaryData<GetUserResponse>,
  ) {
    if (call.metadata.get("authorization")[0] !== expectedAuthorization) {
      tally.failed++;
      callback({ code: grpc.status.UNAUTHENTICATED, details: "bad token" });
      return;
    }
    const found = users.get(call.request.id);
    if (!found) {
      tally.failed++;
      callback({ code: grpc.status.NOT_FOUND, details: `user ${call.request.id} not found` });
      return;
    }
    tally.ok++;
    callback(null, create(GetUserResponseSchema, { user: found }));
  },
});

const port = await new Promise<number>((resolve, reject) =>
  server.bindAsync(`127.0.0.1:${portFromEnv()}`, grpc.ServerCredentials.createInsecure(), (err, p) =>
    err ? reject(err) : resolve(p),
  ),
);
await announce(port);
