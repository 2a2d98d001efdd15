import { Code, type Interceptor } from "@connectrpc/connect";
import { type Context, context, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import type { Telemetry } from "../telemetry.ts";
import { codeName, observeCalls, protocolOf } from "./call-end.ts";

/** Codes that are the server's fault (OpenTelemetry's RPC conventions for a server span). */
const serverFaults = new Set([
  Code.Unknown,
  Code.DeadlineExceeded,
  Code.Unimplemented,
  Code.Internal,
  Code.Unavailable,
  Code.DataLoss,
]);

/**
 * A server span per call, named `<service>/<method>`, child of the caller's W3C traceparent,
 * and active while the handler runs (a stream's handler too, message by message), so the
 * database spans it causes nest under it. Without telemetry the interceptor is a pass-through.
 */
export function tracingInterceptor(telemetry: Telemetry | undefined): Interceptor {
  if (!telemetry) return (next) => next;
  const { tracer } = telemetry;
  return (next) => async (req) => {
    const parent = telemetry.extract(context.active(), req.header);
    const span = tracer.startSpan(
      `${req.service.typeName}/${req.method.name}`,
      {
        kind: SpanKind.SERVER,
        attributes: {
          "rpc.system": protocolOf(req.header) === "connect" ? "connect_rpc" : "grpc",
          "rpc.service": req.service.typeName,
          "rpc.method": req.method.name,
          "rpc.protocol": protocolOf(req.header),
        },
      },
      parent,
    );
    const active = trace.setSpan(parent, span);
    const ending = observeCalls(() => (err) => {
      span.setAttribute("rpc.grpc.status_code", err?.code ?? 0);
      span.setAttribute("rpc.connect_rpc.status_code", codeName(err));
      if (err && serverFaults.has(err.code)) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: err.rawMessage });
      }
      span.end();
    })(next);
    const res = await context.with(active, () => ending(req));
    if (!res.stream) return res;
    return { ...res, message: inContext(active, res.message) };
  };
}

/**
 * A stream's handler runs as its messages are pulled, by connect-node's writer, outside the
 * context above; each pull is made inside it again.
 */
async function* inContext<T>(active: Context, source: AsyncIterable<T>): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]();
  let done = false;
  try {
    for (;;) {
      const r = await context.with(active, () => it.next());
      if (r.done) {
        done = true;
        return;
      }
      yield r.value;
    }
  } finally {
    if (!done) await context.with(active, () => it.return?.());
  }
}
