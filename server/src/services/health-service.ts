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
 * Health names of the optional dependencies (HealthMonitorOptions.optional), beside the
 * services: "switchboard.events" is the live-event bus. NOT_SERVING there means degraded, not
 * down: "" and every service stay SERVING (writes work, streams poll the events table), so a
 * balancer keeps the instance while a watcher of this name sees the outage and the recovery.
 */
export const componentName = (dependency: string) => `switchboard.${dependency}`;

/**
 * grpc.health.v1.Health, for load balancers and orchestrators that speak gRPC. Every service
 * needs the database, so all of them share the monitor's one status: asking about a single
 * service tells the same truth as asking about the server.
 */
export function createHealthService(deps: HealthServiceDeps): ServiceImpl<typeof Health> {
  const { monitor } = deps;
  const isService = (service: string) =>
    service === "" || deps.services().some((s) => s.typeName === service);
  const component = (service: string) =>
    monitor.optional().find((dependency) => componentName(dependency) === service);
  const isKnown = (service: string) => isService(service) || component(service) !== undefined;
  const serving = (): Status =>
    monitor.status() === "SERVING" ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
  /** A service has the server's status; a component is NOT_SERVING while it is degraded too. */
  const current = (service = ""): Status => {
    const dependency = component(service);
    if (dependency === undefined || serving() !== ServingStatus.SERVING) return serving();
    return monitor.degraded().includes(dependency) ? ServingStatus.NOT_SERVING : ServingStatus.SERVING;
  };

  /**
   * What a Watch reports. At shutdown even the watcher of an unknown service hears
   * NOT_SERVING: nothing is served any more, and every watcher learns so before its stream ends.
   */
  const watched = (service: string): Status => {
    if (monitor.isShuttingDown()) return ServingStatus.NOT_SERVING;
    return isKnown(service) ? current(service) : ServingStatus.SERVICE_UNKNOWN;
  };

  return {
    check(req) {
      if (!isKnown(req.service)) throw new ConnectError(`unknown service ${req.service}`, Code.NotFound);
      return { status: current(req.service) };
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
      for (const dependency of monitor.optional()) {
        statuses[componentName(dependency)] = { status: current(componentName(dependency)) };
      }
      return { statuses };
    },
  };
}
