import type { Registry } from "prom-client";

/** The labels of every RPC series. */
export interface RpcLabels {
  service: string;
  method: string;
  /** connect, grpc or grpc_web */
  protocol: string;
  /** The Connect code's name, ok for success. */
  code: string;
}

/** One series: a completed call of one method, protocol and outcome. */
export interface RpcSeries {
  /** A completed call that took `seconds`: counted, and its duration observed. */
  observe(seconds: number): void;
  /** A call answered without being run (a refusal): counted, no duration. */
  count(): void;
}

/** A metric as prom-client's registry reads it (what its own metrics' get() returns). */
interface MetricValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

export interface RpcMetrics {
  /** The series for these labels, made on first use; callers keep it (no lookup per call). */
  series(labels: RpcLabels): RpcSeries;
  /** rpc_requests_total, as prom-client's Counter.get() gives it (for tests and tools). */
  readonly requests: { get(): Promise<{ values: MetricValue[] }> };
}

interface SeriesState extends RpcSeries {
  readonly labels: RpcLabels;
  requests: number;
  observations: number;
  sum: number;
  /** Observations per bucket (not cumulative); one past the last bound for +Inf. */
  readonly buckets: Float64Array;
}

/**
 * rpc_requests_total and rpc_duration_seconds, kept in one table of plain numbers and read
 * by the registry at scrape time. prom-client's own Counter and Histogram validate the labels,
 * hash them into a key and look the series up on every observation, even through a child
 * bound to its labels: about 1.5 µs a call for the two, a tenth of what a small call's
 * interceptors cost in all (measured). Here a call adds to its series' numbers; the text at
 * /metrics is what prom-client's Counter and Histogram would write for the same observations.
 */
export function createRpcMetrics(registry: Registry, buckets: readonly number[]): RpcMetrics {
  const bounds = Float64Array.from(buckets);
  const table = new Map<string, SeriesState>();

  const series = (labels: RpcLabels): SeriesState => {
    const key = `${labels.service}\u0000${labels.method}\u0000${labels.protocol}\u0000${labels.code}`;
    let s = table.get(key);
    if (!s) {
      const state: SeriesState = {
        labels: { ...labels },
        requests: 0,
        observations: 0,
        sum: 0,
        buckets: new Float64Array(bounds.length + 1),
        observe(seconds) {
          state.requests++;
          state.observations++;
          state.sum += seconds;
          let i = 0;
          while (i < bounds.length && seconds > (bounds[i] as number)) i++;
          (state.buckets[i] as number)++;
        },
        count() {
          state.requests++;
        },
      };
      s = state;
      table.set(key, s);
    }
    return s;
  };

  const requestsHelp =
    "Completed RPCs by service, method, protocol (connect, grpc, grpc_web) and Connect code (ok for success).";
  const requests = {
    name: "rpc_requests_total",
    help: requestsHelp,
    type: "counter",
    aggregator: "sum",
    async get() {
      const values: MetricValue[] = [];
      for (const s of table.values()) values.push({ labels: { ...s.labels }, value: s.requests });
      return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
    },
    reset() {
      table.clear();
    },
  };
  const duration = {
    name: "rpc_duration_seconds",
    help: "RPC duration from the first interceptor to the response's end (streams: to their last message or error).",
    type: "histogram",
    aggregator: "sum",
    async get() {
      const values: MetricValue[] = [];
      for (const s of table.values()) {
        if (s.observations === 0) continue;
        let cumulative = 0;
        for (let i = 0; i < bounds.length; i++) {
          cumulative += s.buckets[i] as number;
          values.push({
            labels: { le: bounds[i] as number, ...s.labels },
            value: cumulative,
            metricName: "rpc_duration_seconds_bucket",
          });
        }
        values.push({
          labels: { le: "+Inf", ...s.labels },
          value: s.observations,
          metricName: "rpc_duration_seconds_bucket",
        });
        values.push({ labels: { ...s.labels }, value: s.sum, metricName: "rpc_duration_seconds_sum" });
        values.push({
          labels: { ...s.labels },
          value: s.observations,
          metricName: "rpc_duration_seconds_count",
        });
      }
      return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
    },
    reset() {
      table.clear();
    },
  };
  // The registry takes any object with a name and get(); these two read the table above.
  registry.registerMetric(requests as unknown as Parameters<Registry["registerMetric"]>[0]);
  registry.registerMetric(duration as unknown as Parameters<Registry["registerMetric"]>[0]);
  return { series, requests };
}
