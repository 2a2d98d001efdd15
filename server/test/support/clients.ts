import type { DescService } from "@bufbuild/protobuf";
import { type Client, createClient, type Transport } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";

/** The protocols every RPC must work over, as connect-node clients speak them. */
export const protocols = {
  "connect-json": (baseUrl: string) =>
    createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: false }),
  "connect-binary-h2c": (baseUrl: string) =>
    createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: true }),
  grpc: (baseUrl: string) => createGrpcTransport({ baseUrl }),
  "grpc-web": (baseUrl: string) =>
    createGrpcWebTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true }),
} satisfies Record<string, (baseUrl: string) => Transport>;

export type ProtocolName = keyof typeof protocols;
export const protocolNames = Object.keys(protocols) as ProtocolName[];

export function clientFor<S extends DescService>(
  service: S,
  baseUrl: string,
  protocol: ProtocolName,
): Client<S> {
  return createClient(service, protocols[protocol](baseUrl));
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
