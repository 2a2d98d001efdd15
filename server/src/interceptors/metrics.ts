import type { DescMethod } from "@bufbuild/protobuf";
import type { Interceptor } from "@connectrpc/connect";
import type { Metrics } from "../metrics.ts";
import type { RpcSeries } from "../rpc-metrics.ts";
import { codeName, observeCalls, type Protocol, protocolOf } from "./call-end.ts";

/** Counts and times every call by service, method, protocol and code; streams at their end. */
export function metricsInterceptor(metrics: Metrics): Interceptor {
  // Each call's series is found by its method's descriptor (the same object every call),
  // protocol and code, without building a key.
  const series = new Map<DescMethod, Partial<Record<Protocol, Map<string, RpcSeries>>>>();
  const seriesOf = (method: DescMethod, protocol: Protocol, code: string): RpcSeries => {
    let byProtocol = series.get(method);
    if (!byProtocol) {
      byProtocol = {};
      series.set(method, byProtocol);
    }
    let byCode = byProtocol[protocol];
    if (!byCode) {
      byCode = new Map();
      byProtocol[protocol] = byCode;
    }
    let s = byCode.get(code);
    if (!s) {
      s = metrics.rpc.series({ service: method.parent.typeName, method: method.name, protocol, code });
      byCode.set(code, s);
    }
    return s;
  };
  return observeCalls((req) => {
    const started = performance.now();
    return (err) => {
      seriesOf(req.method, protocolOf(req.header), codeName(err)).observe(
        (performance.now() - started) / 1000,
      );
    };
  });
}
