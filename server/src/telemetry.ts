import type { Context, TextMapGetter, Tracer } from "@opentelemetry/api";
import type { Config } from "./config.ts";
import type { Logger } from "./logger.ts";

/**
 * Tracing, when OTEL_EXPORTER_OTLP_ENDPOINT is set: spans go to `<endpoint>/v1/traces` as
 * OTLP/HTTP JSON, batched. Unset, there is no Telemetry at all and the SDK is never imported:
 * only @opentelemetry/api's no-op paths remain, which is what "off" costs.
 */
export interface Telemetry {
  readonly tracer: Tracer;
  /** The W3C trace context (traceparent, tracestate) of incoming headers, on `base`. */
  extract(base: Context, header: Headers): Context;
  /** Sends the spans still buffered, then stops. */
  shutdown(): Promise<void>;
}

const headerGetter: TextMapGetter<Headers> = {
  keys: (header) => {
    const keys: string[] = [];
    header.forEach((_value, key) => {
      keys.push(key);
    });
    return keys;
  },
  get: (header, key) => header.get(key) ?? undefined,
};

export async function startTelemetry(
  config: Pick<Config, "otelExporterOtlpEndpoint" | "otelServiceName">,
  logger: Logger,
): Promise<Telemetry | undefined> {
  const endpoint = config.otelExporterOtlpEndpoint;
  if (!endpoint) return undefined;
  const [
    api,
    { AsyncLocalStorageContextManager },
    { W3CTraceContextPropagator },
    sdk,
    { OTLPTraceExporter },
    resources,
  ] = await Promise.all([
    import("@opentelemetry/api"),
    import("@opentelemetry/context-async-hooks"),
    import("@opentelemetry/core"),
    import("@opentelemetry/sdk-trace"),
    import("@opentelemetry/exporter-trace-otlp-http"),
    import("@opentelemetry/resources"),
  ]);
  // Spans follow the call through awaits only with an async-hooks context manager. It is
  // process-wide; a second server in the process (tests) finds one set, which serves as well.
  api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const provider = new sdk.TracerProvider({
    resource: resources.resourceFromAttributes({ "service.name": config.otelServiceName }),
    spanProcessors: [
      new sdk.BatchSpanProcessor({
        exporter: new OTLPTraceExporter({ url: `${endpoint.replace(/\/+$/, "")}/v1/traces` }),
      }),
    ],
  });
  const propagator = new W3CTraceContextPropagator();
  logger.info({ endpoint, serviceName: config.otelServiceName }, "tracing on: spans exported with OTLP/HTTP");
  return {
    // The provider is not registered globally: the server and its database take this tracer.
    tracer: provider.getTracer("switchboard"),
    extract: (base, header) => propagator.extract(base, header, headerGetter),
    async shutdown() {
      try {
        await provider.shutdown();
      } catch (err) {
        logger.warn({ err }, "tracing: spans could not be flushed at shutdown");
      }
    },
  };
}
