import type { Interceptor } from "@connectrpc/connect";
import type { Metrics } from "../metrics.ts";
import { codeName, observeCalls, protocolOf } from "./call-end.ts";

/** Counts and times every call by service, method, protocol and code; streams at their end. */
export function metricsInterceptor(metrics: Metrics): Interceptor {
  return observeCalls((req) => {
    const end = metrics.rpcDuration.startTimer({
      service: req.service.typeName,
      method: req.method.name,
      protocol: protocolOf(req.header),
    });
    return (err) => {
      const code = codeName(err);
      end({ code });
      metrics.rpcRequests.inc({
        service: req.service.typeName,
        method: req.method.name,
        protocol: protocolOf(req.header),
        code,
      });
    };
  });
}
