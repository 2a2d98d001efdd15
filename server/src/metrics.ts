import { collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { createRpcMetrics, type RpcMetrics } from "./rpc-metrics.ts";

/** What the gauges read at scrape time. */
export interface MetricSources {
  /** Calls in progress, and of them the streaming ones. */
  openCalls(): number;
  openStreams(): number;
  /** Connections the database pool may open, and work holding or waiting for one. */
  poolSize(): number;
  poolInFlight(): number;
}

/**
 * This instance's Prometheus metrics, in a registry of its own (not prom-client's global one,
 * so two servers in one process, as in tests, never share or clash). Served at GET /metrics.
 */
export interface Metrics {
  readonly registry: Registry;
  /** Completed calls by service, method, protocol and code, and their durations (streams to their end). */
  readonly rpc: RpcMetrics;
  /** From a live event's publish to its delivery to a stream. */
  readonly busLag: Histogram;
}

export function createMetrics(sources: MetricSources): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  // rpc_requests_total and rpc_duration_seconds (rpc-metrics.ts).
  const rpc = createRpcMetrics(
    registry,
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800],
  );
  new Gauge({
    name: "rpc_open_calls",
    help: "RPCs in progress, streams included.",
    registers,
    collect() {
      this.set(sources.openCalls());
    },
  });
  new Gauge({
    name: "rpc_open_streams",
    help: "Streaming RPCs (server, client and bidi) in progress.",
    registers,
    collect() {
      this.set(sources.openStreams());
    },
  });
  const busLag = new Histogram({
    name: "event_bus_lag_seconds",
    help: "Time from a live event's publish on the bus to its delivery to a stream (across instances: subject to clock skew).",
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  new Gauge({
    name: "db_pool_max_connections",
    help: "Connections the database pool may open (DATABASE_POOL_SIZE; 1 for the embedded database).",
    registers,
    collect() {
      this.set(sources.poolSize());
    },
  });
  new Gauge({
    name: "db_pool_connections_in_use",
    help: "Pool connections in use: transactions and statements outside transactions in flight, up to the pool size.",
    registers,
    collect() {
      this.set(Math.min(sources.poolInFlight(), sources.poolSize()));
    },
  });
  new Gauge({
    name: "db_pool_waiting",
    help: "Transactions and statements in flight beyond the pool size: waiting for a connection.",
    registers,
    collect() {
      this.set(Math.max(0, sources.poolInFlight() - sources.poolSize()));
    },
  });
  return { registry, rpc, busLag };
}
