// One shape for every foreign client, so that a case is written once and each client runs it:
// a unary call answers a message or throws an RpcFailure, a server stream answers its messages,
// and so does a bidi stream, once the client has half-closed it and the server has ended it.
// Messages come back as JSON with lowerCamelCase keys (the proto3 JSON names), whatever the
// client's own convention (grpc-js and Python grpcio keep the proto field names).

export type Json = Record<string, unknown>;

/** A call that ended with a status other than OK, in Connect's spelling ("not_found"). */
export class RpcFailure extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

/** The failure of a call that must fail; throws if it succeeded or failed in some other way. */
export async function rpcFailure(call: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await call;
  } catch (err) {
    if (err instanceof RpcFailure) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error("the call succeeded");
}

export interface StreamOptions {
  /**
   * For a stream that never ends by itself (StreamOrders, SubscribeNotifications): the client
   * stops reading and cancels the call once this many messages have arrived.
   */
  take?: number;
  /**
   * Runs for each message as it arrives, one at a time; the call is cancelled only after the
   * one for the last message taken has finished.
   */
  onMessage?: (message: Json, index: number) => Promise<void> | void;
}

export interface BidiOptions {
  /**
   * For a client that writes in lockstep (full duplex): before writing request i + 1, and before
   * half-closing after the last one, it waits until awaitReplies[i] messages have arrived in all.
   * A client that cannot (buf curl writes stdin at once) ignores it.
   */
  awaitReplies?: number[];
}

export interface RpcClient {
  /** A unary call to "package.Service/Method"; the request uses proto field names. */
  unary(procedure: string, request: Json): Promise<Json>;
  /** A server-streaming call, read to its end, or to `take` messages and then cancelled. */
  serverStream(procedure: string, request: Json, options?: StreamOptions): Promise<Json[]>;
  /** A bidi call: writes the requests, half-closes, and reads the responses to the end. */
  bidiStream(procedure: string, requests: Json[], options?: BidiOptions): Promise<Json[]>;
}

/** Keys in lowerCamelCase, recursively: what protojson prints for proto field names. */
export function camelKeys<T = unknown>(value: unknown): T {
  if (Array.isArray(value)) return value.map((v) => camelKeys(v)) as T;
  if (value === null || typeof value !== "object" || Buffer.isBuffer(value)) return value as T;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [
      k.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()),
      camelKeys(v),
    ]),
  ) as T;
}
