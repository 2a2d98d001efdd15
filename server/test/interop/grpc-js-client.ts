// A @grpc/grpc-js client for UserService, built at run time from gen/switchboard.binpb through
// @grpc/proto-loader: no generated grpc-js code and no .proto files on disk (buf/validate is
// not on disk anywhere, so loading user.proto by path could not resolve its imports).
import { readFileSync } from "node:fs";
import * as grpc from "@grpc/grpc-js";
import { loadFileDescriptorSetFromBuffer } from "@grpc/proto-loader";
import { descriptorSet } from "./paths.ts";

const packageDefinition = loadFileDescriptorSetFromBuffer(readFileSync(descriptorSet), {
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
});
const UserServiceClient = grpc.makeGenericClientConstructor(
  packageDefinition["switchboard.v1.UserService"] as grpc.ServiceDefinition,
  "UserService",
);

/** Messages as proto-loader decodes them from a descriptor set: proto field names, int64 as string. */
export interface User {
  id: string;
  name: string;
  email: string;
  age: number;
  version: string;
}
export interface BatchReport {
  users: User[];
  success_count: number;
  failures: { index: number; code: number; reason: string }[];
}
export interface UserStreamAnswer {
  request_id: string;
  result: "user" | "deleted" | "error";
  user?: User;
  error?: { code: number; message: string };
}

type Callback<T> = (err: grpc.ServiceError | null, res?: T) => void;

/** The methods these tests call, typed; grpc-js itself only knows them by name. */
export interface UserServiceStub {
  createUser(
    req: object,
    md: grpc.Metadata,
    opts: grpc.CallOptions,
    cb: Callback<{ user: User }>,
  ): grpc.ClientUnaryCall;
  getUser(
    req: object,
    md: grpc.Metadata,
    opts: grpc.CallOptions,
    cb: Callback<{ user: User }>,
  ): grpc.ClientUnaryCall;
  updateUser(
    req: object,
    md: grpc.Metadata,
    opts: grpc.CallOptions,
    cb: Callback<{ user: User }>,
  ): grpc.ClientUnaryCall;
  listUsers(
    req: object,
    md?: grpc.Metadata,
    opts?: grpc.CallOptions,
  ): grpc.ClientReadableStream<{ user: User }>;
  batchCreateUsers(
    md: grpc.Metadata,
    opts: grpc.CallOptions,
    cb: Callback<BatchReport>,
  ): grpc.ClientWritableStream<object>;
  userStream(md?: grpc.Metadata, opts?: grpc.CallOptions): grpc.ClientDuplexStream<object, UserStreamAnswer>;
  makeUnaryRequest: grpc.Client["makeUnaryRequest"];
  close(): void;
}

/** A grpc-js channel to the server's URL (http://host:port): plaintext HTTP/2 with prior knowledge. */
export function userServiceClient(url: string): UserServiceStub {
  return new UserServiceClient(
    new URL(url).host,
    grpc.credentials.createInsecure(),
  ) as unknown as UserServiceStub;
}

export interface UnaryResult<T> {
  response: T;
  /** Response header metadata. */
  headers: grpc.Metadata;
  /** Trailer metadata (grpc-js keeps grpc-status and grpc-message out of it). */
  trailers: grpc.Metadata;
}

/** Calls a unary method (all of them answer { user }) and also collects header and trailer metadata. */
export function unary(
  client: UserServiceStub,
  method: "createUser" | "getUser" | "updateUser",
  request: object,
  options: { metadata?: grpc.Metadata; deadline?: Date } = {},
): Promise<UnaryResult<{ user: User }>> {
  return new Promise((resolve, reject) => {
    let headers = new grpc.Metadata();
    let response: { user: User } | undefined;
    const call = client[method](
      request,
      options.metadata ?? new grpc.Metadata(),
      { deadline: options.deadline ?? Infinity },
      (err, res) => {
        if (err) reject(err);
        else response = res;
      },
    );
    call.on("metadata", (m: grpc.Metadata) => {
      headers = m;
    });
    // grpc-js calls back before it emits 'status', so the response is known by then.
    call.on("status", (s: grpc.StatusObject) => {
      if (response !== undefined) resolve({ response, headers, trailers: s.metadata });
    });
  });
}

/** The error of a call that must fail. */
export async function failure(promise: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await promise;
  } catch (err) {
    return err as grpc.ServiceError;
  }
  throw new Error("the call succeeded");
}

/** Reads a server stream to its end. */
export function readAll<T>(stream: grpc.ClientReadableStream<T>): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const out: T[] = [];
    stream.on("data", (m: T) => out.push(m));
    stream.on("error", reject);
    stream.on("end", () => resolve(out));
  });
}

export { grpc };
