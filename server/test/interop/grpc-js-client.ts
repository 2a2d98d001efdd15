// @grpc/grpc-js clients, built at run time from gen/switchboard.binpb through
// @grpc/proto-loader: no generated grpc-js code and no .proto files on disk (buf/validate is
// not on disk anywhere, so loading user.proto by path could not resolve its imports). A typed
// stub for UserService, and an RpcClient (rpc-client.ts) that calls any method by name. Both
// send the bearer token as `authorization` metadata: by default the test servers' admin token.
import { readFileSync } from "node:fs";
import * as grpc from "@grpc/grpc-js";
import { loadFileDescriptorSetFromBuffer } from "@grpc/proto-loader";
import { testAdminToken } from "../support/auth.ts";
import { descriptorSet } from "./paths.ts";
import { camelKeys, type Json, type RpcClient, RpcFailure } from "./rpc-client.ts";
import { codes } from "./wire.ts";

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

/** Metadata carrying `authorization: Bearer <token>` (none for a null token). */
export function bearerMetadata(token: string | null): grpc.Metadata {
  const metadata = new grpc.Metadata();
  if (token !== null) metadata.set("authorization", `Bearer ${token}`);
  return metadata;
}

/**
 * A grpc-js channel to the server's URL (http://host:port): plaintext HTTP/2 with prior
 * knowledge. Every call carries `token` in its metadata unless it sets `authorization` itself
 * (grpc-js refuses call credentials on an insecure channel, so an interceptor adds it).
 */
export function userServiceClient(url: string, token: string | null = testAdminToken): UserServiceStub {
  const withToken: grpc.Interceptor = (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        if (token !== null && metadata.get("authorization").length === 0)
          metadata.set("authorization", `Bearer ${token}`);
        next(metadata, listener);
      },
    });
  return new UserServiceClient(new URL(url).host, grpc.credentials.createInsecure(), {
    interceptors: [withToken],
  }) as unknown as UserServiceStub;
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
export async function readAll<T>(stream: grpc.ClientReadableStream<T>): Promise<T[]> {
  return (await readStream(stream)).messages;
}

/** grpc-js's view of one method: path, serializers and stream flags, from the descriptor set. */
function methodDefinition(procedure: string): grpc.MethodDefinition<object, object> {
  const [service = "", method = ""] = procedure.split("/");
  const definition = (packageDefinition[service] as grpc.ServiceDefinition | undefined)?.[method];
  if (!definition) throw new Error(`no method ${procedure} in ${descriptorSet}`);
  return definition as grpc.MethodDefinition<object, object>;
}

/** A grpc-js error as an RpcFailure (grpc-js decodes grpc-message with decodeURI only). */
function rpcFailureOf(err: grpc.ServiceError): RpcFailure {
  let message = err.details;
  try {
    message = decodeURIComponent(message);
  } catch {}
  return new RpcFailure(codes[err.code] ?? "unknown", message);
}

export interface GrpcJsRpcClient extends RpcClient {
  /** The same channel, calling as another token (null: none). */
  as(token: string | null): RpcClient;
  close(): void;
}

/**
 * grpc-js as an RpcClient, on one channel, sending `token` (default: the test servers' admin
 * token) as `authorization` metadata on every call. A stream read with `take` is cancelled with
 * call.cancel() once enough messages are in, and must then end CANCELLED (not with a status
 * the server sent first). A bidi call writes in lockstep when told to (full duplex), then
 * half-closes and must end OK. `deadlineMs` gives every call that deadline.
 */
export function grpcJsRpcClient(
  url: string,
  options: { deadlineMs?: number; token?: string | null } = {},
): GrpcJsRpcClient {
  const client = new grpc.Client(new URL(url).host, grpc.credentials.createInsecure());
  const callOptions = (): grpc.CallOptions => ({
    deadline: options.deadlineMs ? Date.now() + options.deadlineMs : Infinity,
  });
  const as = (token: string | null) => rpcClientOn(client, callOptions, token);
  return {
    ...as(options.token === undefined ? testAdminToken : options.token),
    as,
    close: () => client.close(),
  };
}

function rpcClientOn(
  client: grpc.Client,
  callOptions: () => grpc.CallOptions,
  token: string | null,
): RpcClient {
  return {
    unary(procedure, request) {
      const m = methodDefinition(procedure);
      return new Promise((resolve, reject) => {
        client.makeUnaryRequest(
          m.path,
          m.requestSerialize,
          m.responseDeserialize,
          request,
          bearerMetadata(token),
          callOptions(),
          (err, res) => (err ? reject(rpcFailureOf(err)) : resolve(camelKeys<Json>(res))),
        );
      });
    },
    serverStream(procedure, request, streamOptions = {}) {
      const m = methodDefinition(procedure);
      const call = client.makeServerStreamRequest(
        m.path,
        m.requestSerialize,
        m.responseDeserialize,
        request,
        bearerMetadata(token),
        callOptions(),
      );
      const { take, onMessage } = streamOptions;
      return readStream(call, {
        ...(take === undefined ? {} : { take }),
        ...(onMessage ? { onMessage: (message: object, i: number) => onMessage(camelKeys(message), i) } : {}),
      }).then(({ messages, status }) => {
        if (status && status.code !== grpc.status.CANCELLED) {
          throw new Error(`${procedure} ended with ${status.code} ${status.details} before it was cancelled`);
        }
        return messages.map((message) => camelKeys<Json>(message));
      });
    },
    bidiStream(procedure, requests, { awaitReplies } = {}) {
      const m = methodDefinition(procedure);
      const call = client.makeBidiStreamRequest(
        m.path,
        m.requestSerialize,
        m.responseDeserialize,
        bearerMetadata(token),
        callOptions(),
      );
      return new Promise<Json[]>((resolve, reject) => {
        const messages: Json[] = [];
        /** Resolved once `count` messages are in (or the call is over). */
        let waiting: { count: number; wake: () => void } | undefined;
        let over = false;
        const repliesIn = (count: number) =>
          over || messages.length >= count
            ? Promise.resolve()
            : new Promise<void>((wake) => {
                // A reply that never comes fails the call, rather than the cell's timeout.
                const timer = setTimeout(() => {
                  over = true;
                  call.cancel();
                  reject(new Error(`${procedure}: ${messages.length} of ${count} replies after 5 s`));
                }, 5000);
                waiting = {
                  count,
                  wake: () => {
                    clearTimeout(timer);
                    wake();
                  },
                };
              });
        const wakeUp = () => {
          if (waiting && (over || messages.length >= waiting.count)) {
            waiting.wake();
            waiting = undefined;
          }
        };
        call.on("data", (message: object) => {
          messages.push(camelKeys<Json>(message));
          wakeUp();
        });
        call.on("error", (err: grpc.ServiceError) => {
          over = true;
          wakeUp();
          reject(rpcFailureOf(err));
        });
        call.on("end", () => {
          over = true;
          wakeUp();
        });
        call.on("status", (status: grpc.StatusObject) => {
          if (status.code === grpc.status.OK) resolve(messages);
        });
        void (async () => {
          for (const [i, request] of requests.entries()) {
            if (over) return;
            call.write(request);
            if (awaitReplies) await repliesIn(awaitReplies[i] ?? 0);
          }
          if (!over) call.end();
        })();
      });
    },
  };
}

/**
 * Reads a server stream to its end, or until `take` messages are in and then cancels it.
 * `onMessage` runs for each message in turn while the stream goes on. Answers the messages and,
 * for a cancelled stream, its final status (CANCELLED, unless the server ended it first).
 */
export function readStream<T>(
  call: grpc.ClientReadableStream<T>,
  { take, onMessage }: { take?: number; onMessage?: (message: T, index: number) => unknown } = {},
): Promise<{ messages: T[]; status?: grpc.StatusObject }> {
  const status = new Promise<grpc.StatusObject>((resolve) => call.on("status", resolve));
  return new Promise((resolve, reject) => {
    const messages: T[] = [];
    let handled: Promise<unknown> = Promise.resolve();
    let settled = false;
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      call.cancel();
      reject(err);
    };
    call.on("data", (message: T) => {
      const index = messages.push(message) - 1;
      handled = handled
        .then(() => !settled && onMessage?.(message, index))
        .then(async () => {
          if (settled || take === undefined || index + 1 !== take) return;
          settled = true;
          call.cancel();
          resolve({ messages, status: await status });
        })
        .catch(fail);
    });
    call.on("error", (err: grpc.ServiceError) => {
      // The CANCELLED error of a stream cancelled here is reported as its status.
      if (take !== undefined && messages.length >= take && err.code === grpc.status.CANCELLED) return;
      void handled.then(() => fail(rpcFailureOf(err)));
    });
    call.on("end", () => {
      void handled.then(() => {
        if (take !== undefined)
          fail(new Error(`the stream ended after ${messages.length} of ${take} messages`));
        else if (!settled) {
          settled = true;
          resolve({ messages });
        }
      });
    });
  });
}

export { grpc };
