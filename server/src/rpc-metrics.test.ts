import assert from "node:assert/strict";
import { test } from "node:test";
import { Counter, Histogram, Registry } from "prom-client";
import { createRpcMetrics } from "./rpc-metrics.ts";

const buckets = [0.001, 0.01, 0.1, 1];
const labelNames = ["service", "method", "protocol", "code"] as const;

/** The lines of a scrape, sorted: the order of series is not part of the format. */
const lines = (text: string) => text.trim().split("\n").sort();

test("the scrape is what prom-client's own Counter and Histogram write for the same calls", async () => {
  const ours = new Registry();
  const rpc = createRpcMetrics(ours, buckets);
  const theirs = new Registry();
  const requests = new Counter({
    name: "rpc_requests_total",
    help: "Completed RPCs by service, method, protocol (connect, grpc, grpc_web) and Connect code (ok for success).",
    labelNames,
    registers: [theirs],
  });
  const duration = new Histogram({
    name: "rpc_duration_seconds",
    help: "RPC duration from the first interceptor to the response's end (streams: to their last message or error).",
    labelNames,
    buckets,
    registers: [theirs],
  });
  const calls: [string, string, string, number][] = [
    ["GetUser", "grpc", "ok", 0.0004],
    ["GetUser", "grpc", "ok", 0.001], // on a bound: counted in that bucket
    ["GetUser", "grpc", "ok", 0.05],
    ["GetUser", "connect", "not_found", 0.002],
    ["ListUsers", "grpc_web", "ok", 7], // past the last bound: +Inf only
  ];
  for (const [method, protocol, code, seconds] of calls) {
    const labels = { service: "switchboard.v1.UserService", method, protocol, code };
    rpc.series(labels).observe(seconds);
    requests.inc(labels);
    duration.observe(labels, seconds);
  }
  // A refusal: counted, never timed.
  const refused = {
    service: "switchboard.v1.ChatService",
    method: "Subscribe",
    protocol: "grpc",
    code: "resource_exhausted",
  };
  rpc.series(refused).count();
  requests.inc(refused);

  assert.deepEqual(lines(await ours.metrics()), lines(await theirs.metrics()));
  const values = (await rpc.requests.get()).values;
  assert.equal(
    values.reduce((n, v) => n + v.value, 0),
    calls.length + 1,
  );
});

test("a series is the same object for the same labels, so callers can keep it", () => {
  const rpc = createRpcMetrics(new Registry(), buckets);
  const labels = { service: "s", method: "m", protocol: "grpc", code: "ok" };
  assert.equal(rpc.series(labels), rpc.series({ ...labels }));
  assert.notEqual(rpc.series(labels), rpc.series({ ...labels, code: "internal" }));
});
