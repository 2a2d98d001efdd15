import type { Interceptor, Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";

/** The wire protocols a browser can speak to Switchboard; every page works over each. */
export type Protocol = "connect-json" | "connect-binary" | "grpc-web";

export const protocols: readonly { id: Protocol; label: string }[] = [
  { id: "connect-json", label: "Connect JSON" },
  { id: "connect-binary", label: "Connect binary" },
  { id: "grpc-web", label: "gRPC-Web" },
];

const storageKey = "switchboard.protocol";
const param = "protocol";

function isProtocol(value: string | null): value is Protocol {
  return protocols.some((p) => p.id === value);
}

/**
 * The protocol this tab uses: `?protocol=` in the URL wins (so a link or a test can pick it),
 * then the tab's sessionStorage, then Connect JSON. The choice is remembered for the tab.
 */
export function initialProtocol(): Protocol {
  const fromUrl = new URLSearchParams(window.location.search).get(param);
  if (isProtocol(fromUrl)) {
    sessionStorage.setItem(storageKey, fromUrl);
    return fromUrl;
  }
  const stored = sessionStorage.getItem(storageKey);
  return isProtocol(stored) ? stored : "connect-json";
}

/** Remembers the choice for this tab and shows it in the URL. */
export function saveProtocol(protocol: Protocol): void {
  sessionStorage.setItem(storageKey, protocol);
  const url = new URL(window.location.href);
  url.searchParams.set(param, protocol);
  window.history.replaceState(window.history.state, "", url);
}

/**
 * Same origin: the page is served by Switchboard itself (or proxied to it by `npm run dev`).
 * `interceptors` run on every call of every protocol (the session's Authorization header).
 */
export function createTransport(protocol: Protocol, interceptors: Interceptor[] = []): Transport {
  const baseUrl = window.location.origin;
  switch (protocol) {
    case "connect-json":
      return createConnectTransport({ baseUrl, useBinaryFormat: false, interceptors });
    case "connect-binary":
      return createConnectTransport({ baseUrl, useBinaryFormat: true, interceptors });
    case "grpc-web":
      return createGrpcWebTransport({ baseUrl, useBinaryFormat: true, interceptors });
  }
}
