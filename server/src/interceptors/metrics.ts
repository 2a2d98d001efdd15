import type { Interceptor } from "@connectrpc/connect";
import type { Metrics } from "../metrics.ts";
import type { RpcSeries } from "../rpc-metrics.ts";
import { codeName, observeCalls, perMethodAndProtocol, protocolOf } from "./call-end.ts";

/** Counts and times every call by service, method, protocol and code; streams at their end. */
export function metricsInterceptor(metrics: Metrics): Interceptor {
  // A call's series, by method and protocol, then by code (few: the codes a method has answered).
  const seriesByCode = perMethodAndProtocol((method, protocol) => {
    const byCode = new Map<string, RpcSeries>();
    return (code: string) => {
      let s = byCode.get(code);
      if (!s) {
        s = metrics.rpc.series({ service: method.parent.typeName, method: method.name, protocol, code });
        byCode.set(code, s);
      }
      return s;
    };
  });
  return observeCalls((req) => {
    const started = performance.now();
    return (err) => {
      seriesByCode(
        req.method,
        protocolOf(req.header),
      )(codeName(err)).observe((performance.now() - started) / 1000);
    };
  });
}
