import type { DescService } from "@bufbuild/protobuf";
import { type Client, createClient, type Transport } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { bearer, testAdminToken } from "./auth.ts";

/**
 * The protocols every RPC must work over, as connect-node clients speak them. Calls carry
 * `token` as a bearer token: by default the test servers' admin token; null sends none.
 */
export const protocols = {
  "connect-json": (baseUrl: string, token: string | null = testAdminToken) =>
    createConnectTransport({
      baseUrl,
      httpVersion: "1.1",
      useBinaryFormat: false,
      interceptors: [bearer(token)],
    }),
  "connect-binary-h2c": (baseUrl: string, token: string | null = testAdminToken) =>
    createConnectTransport({
      baseUrl,
      httpVersion: "2",
      useBinaryFormat: true,
      interceptors: [bearer(token)],
    }),
  grpc: (baseUrl: string, token: string | null = testAdminToken) =>
    createGrpcTransport({ baseUrl, interceptors: [bearer(token)] }),
  "grpc-web": (baseUrl: string, token: string | null = testAdminToken) =>
    createGrpcWebTransport({
      baseUrl,
      httpVersion: "1.1",
      useBinaryFormat: true,
      interceptors: [bearer(token)],
    }),
} satisfies Record<string, (baseUrl: string, token?: string | null) => Transport>;

export type ProtocolName = keyof typeof protocols;
export const protocolNames = Object.keys(protocols) as ProtocolName[];

/** A client of `service` over `protocol`, calling as `token` (default: the admin token). */
export function clientFor<S extends DescService>(
  service: S,
  baseUrl: string,
  protocol: ProtocolName,
  token: string | null = testAdminToken,
): Client<S> {
  return createClient(service, protocols[protocol](baseUrl, token));
}

/** Turns an array into the async iterable a streaming request takes. */
export async function* streamOf<T>(items: Iterable<T>): AsyncIterable<T> {
  for (const item of items) yield item;
}

/** Collects a response stream. */
export async function collect<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of stream) out.push(item);
  return out;
}
