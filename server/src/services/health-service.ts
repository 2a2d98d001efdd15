import type { DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import {
  type Health,
  type HealthCheckResponse,
  HealthCheckResponse_ServingStatus as ServingStatus,
} from "../../../gen/grpc/health/v1/health_pb.js";
import type { HealthMonitor } from "../health-monitor.ts";

export interface HealthServiceDeps {
  monitor: HealthMonitor;
  /**
   * The services this server answers, read per call: the router is still being filled when
   * this service is built. Each of them, and "" (the server as a whole), has a status.
   */
  services: () => readonly DescService[];
}

type Status = HealthCheckResponse["status"];

/**
 * grpc.health.v1.Health, for load balancers and orchestrators that speak gRPC. Every service
 * needs the database, so all of them share the monitor's one status: asking about a single
 * service tells the same truth as asking about the server.
 */
export function createHealthService(deps: HealthServiceDeps): ServiceImpl<typeof Health> {
  const { monitor } = deps;
  const isKnown = (service: string) => service === "" || deps.services().some((s) => s.typeName === service);
  const current = (): Status =>
    monitor.status() === "SERVING" ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;

  /**
   * What a Watch reports. At shutdown even the watcher of an unknown service hears
   * NOT_SERVING: nothing is served any more, and every watcher learns so before its stream ends.
   */
  const watched = (service: string): Status => {
    if (monitor.isShuttingDown()) return ServingStatus.NOT_SERVING;
    return isKnown(service) ? current() : ServingStatus.SERVICE_UNKNOWN;
  };

  return {
    check(req) {
      if (!isKnown(req.service)) throw new ConnectError(`unknown service ${req.service}`, Code.NotFound);
      return { status: current() };
    },

    async *watch(req, ctx) {
      const signal = ctx.signal;
      let wake = () => {};
      const unsubscribe = monitor.subscribe(() => wake());
      const onAbort = () => wake();
      signal.addEventListener("abort", onAbort);
      try {
        let sent: Status | undefined;
        while (!signal.aborted) {
          const status = watched(req.service);
          if (status !== sent) {
            sent = status;
            // Resumed only once the client's transport took this message.
            yield { status };
            continue;
          }
          // The final status is out: end the stream, which also lets shutdown go on at once.
          if (monitor.isShuttingDown()) return;
          // Nothing can change between reading the status and arming wake: both are synchronous.
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
        }
      } finally {
        unsubscribe();
        signal.removeEventListener("abort", onAbort);
      }
    },

    list() {
      const status = current();
      const statuses: Record<string, { status: Status }> = { "": { status } };
      for (const service of deps.services()) statuses[service.typeName] = { status };
      return { statuses };
    },
  };
}
