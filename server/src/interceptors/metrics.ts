import type { Interceptor } from "@connectrpc/connect";
import type { Metrics } from "../metrics.ts";
import { codeName, observeCalls, protocolOf } from "./call-end.ts";

interface Series {
  observe(seconds: number): void;
  inc(): void;
}

/** Counts and times every call by service, method, protocol and code; streams at their end. */
export function metricsInterceptor(metrics: Metrics): Interceptor {
  // prom-client validates and copies the label object on every call given labels; its bound
  // children skip that. The combinations are few (methods × protocols × codes), so each is
  // bound once.
  const series = new Map<string, Series>();
  const seriesOf = (service: string, method: string, protocol: string, code: string): Series => {
    const key = `${service}/${method} ${protocol} ${code}`;
    let s = series.get(key);
    if (!s) {
      const duration = metrics.rpcDuration.labels(service, method, protocol, code);
      const count = metrics.rpcRequests.labels(service, method, protocol, code);
      s = { observe: (seconds) => duration.observe(seconds), inc: () => count.inc() };
      series.set(key, s);
    }
    return s;
  };
  return observeCalls((req) => {
    const started = performance.now();
    return (err) => {
      const s = seriesOf(req.service.typeName, req.method.name, protocolOf(req.header), codeName(err));
      s.observe((performance.now() - started) / 1000);
      s.inc();
    };
  });
}
