import type * as http2 from "node:http2";
import type { DescMethodUnary } from "@bufbuild/protobuf";
import type { ConnectRouter, Interceptor } from "@connectrpc/connect";
import {
  type ConnectNodeAdapterOptions,
  compressionBrotli,
  compressionGzip,
  connectNodeAdapter,
} from "@connectrpc/connect-node";
import { callContextValues, clientAddress, requestOrigin } from "./call-control.ts";
import type { AppContext } from "./context.ts";
import { createCors } from "./cors.ts";
import { createFairDispatch } from "./fair-dispatch.ts";
import { answerUnimplemented } from "./fallback.ts";
import { createFastUnary, type UnaryRoute } from "./fast-unary/fast-unary.ts";
import { authInterceptor } from "./interceptors/auth.ts";
import { deadlineInterceptor } from "./interceptors/deadline.ts";
import { errorInterceptor } from "./interceptors/errors.ts";
import { metricsInterceptor } from "./interceptors/metrics.ts";
import { rateLimitInterceptor } from "./interceptors/rate-limit.ts";
import { requestLogInterceptor } from "./interceptors/request-log.ts";
import { createSessionRevocation } from "./interceptors/session-revocation.ts";
import { shutdownInterceptor } from "./interceptors/shutdown.ts";
import { createStreamLimiter } from "./interceptors/stream-limits.ts";
import { tracingInterceptor } from "./interceptors/tracing.ts";
import { userCallLimitInterceptor } from "./interceptors/user-call-limit.ts";
import { validationInterceptor } from "./interceptors/validation.ts";
import { createRefusals } from "./refusal-response.ts";
import { routes } from "./routes.ts";
import { createStaticFiles, webDist } from "./static-files.ts";
import { createWriteStallGuard } from "./write-stall.ts";

/** A request handler for node:http and node:http2 alike (connect-node's handler type). */
export type HttpHandler = NonNullable<ConnectNodeAdapterOptions["fallback"]>;

/**
 * A new HTTP/2 stream, before node's compatibility layer makes a request and response of it:
 * true when taken as it is (the unary fast path), false to go on to the request handler.
 */
export type StreamHandler = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => boolean;

/** What the listener serves: HTTP/2 streams first, then every request. */
export interface HttpHandlers {
  stream: StreamHandler;
  request: HttpHandler;
}

export interface HttpHandlerOptions {
  /** Aborted when the server begins to shut down: streams end, unary calls finish (shutdown.ts). */
  shutdownSignal: AbortSignal;
  /** True while the server takes new work; false once shutdown has begun. */
  isAccepting: () => boolean;
}

/** Plain HTTP endpoints beside the RPCs, then every RPC on every protocol. */
export function createHttpHandler(ctx: AppContext, opts: HttpHandlerOptions): HttpHandlers {
  const { config } = ctx;
  const addressOf = (values: Parameters<typeof clientAddress>[0]) => clientAddress(values, config.trustProxy);
  // Outermost first: count the call, trace it, log and measure it (seeing codes as mapped),
  // map errors at the edge, then enforce the deadline; then who is calling and may they,
  // how often and how many streams; then validate. Both paths below run exactly these.
  const streamLimits = createStreamLimiter({
    perUser: config.maxStreamsPerUser,
    perAddress: config.maxStreamsPerAddress,
    addressOf,
    refusals: createRefusals(ctx.metrics),
  });
  const interceptors: Interceptor[] = [
    ctx.openCalls.interceptor,
    tracingInterceptor(ctx.telemetry),
    requestLogInterceptor(ctx.logger),
    metricsInterceptor(ctx.metrics),
    errorInterceptor(ctx.logger),
    shutdownInterceptor(opts.shutdownSignal),
    deadlineInterceptor(),
    authInterceptor(
      ctx.authenticate,
      createSessionRevocation(ctx.authenticate, (listener) => ctx.userCache.onChange(listener)),
    ),
    rateLimitInterceptor({ ...ctx.rateLimits, addressOf }),
    userCallLimitInterceptor({ perUser: config.maxCallsPerUser, queued: config.maxQueuedCallsPerUser }),
    streamLimits.interceptor,
    validationInterceptor(ctx.checkMessage),
  ];
  const register = routes(ctx);
  const unaryRoutes = new Map<string, UnaryRoute>();
  const rpc = connectNodeAdapter({
    // The implementations are registered once; the fast path learns its unary ones here.
    routes: (router) => {
      register(recordUnaryRoutes(router, unaryRoutes));
      // Every request type's validation rules compiled before the first call needs them.
      ctx.checkMessage.warm(router.handlers.map((handler) => handler.method.input));
    },
    interceptors,
    readMaxBytes: config.maxMessageBytes,
    writeMaxBytes: config.maxMessageBytes,
    ...(config.maxDeadlineMs > 0 ? { maxTimeoutMs: config.maxDeadlineMs } : {}),
    fallback: answerUnimplemented,
    contextValues: (req) => callContextValues(requestOrigin(req)),
  });
  // The common unary calls skip connect-node's per-call machinery (fast-unary.ts); the rest,
  // and anything unusual, go to the adapter above. Same implementations, same interceptors.
  const fastUnary = !config.unaryFastPath
    ? undefined
    : createFastUnary({
        routes: unaryRoutes,
        interceptors,
        readMaxBytes: config.maxMessageBytes,
        writeMaxBytes: config.maxMessageBytes,
        maxTimeoutMs: config.maxDeadlineMs > 0 ? config.maxDeadlineMs : undefined,
        // connect-node's defaults, so both paths negotiate response compression alike.
        acceptCompression: [compressionGzip, compressionBrotli],
        compressMinBytes: 1024,
        contextValues: callContextValues,
      });
  // The dashboard, when it has been built (npm start builds it).
  const staticFiles = createStaticFiles(webDist);
  const corsFor = createCors(config.corsOrigins);
  const stalls =
    config.streamWriteTimeoutMs > 0 ? createWriteStallGuard(config.streamWriteTimeoutMs) : undefined;
  const dispatch = createFairDispatch(config.dispatchPerTurn);
  const stream: StreamHandler = (stream, headers) => {
    // A stream from an address at its cap is refused as it arrives: no request object, no turn.
    if (streamLimits.refuseEarlyStream(stream, headers)) return true;
    const serve = fastUnary?.stream(stream, headers);
    if (!serve) return false;
    dispatch(stream, serve);
    return true;
  };
  const request: HttpHandler = (req, res) => {
    const path = req.url?.split("?")[0];
    if (req.method === "GET" && path === "/healthz") {
      res.setHeader("content-type", "text/plain");
      res.end("ok\n");
      return;
    }
    if (req.method === "GET" && path === "/metrics") {
      ctx.metrics.registry.metrics().then(
        (text) => {
          res.setHeader("content-type", ctx.metrics.registry.contentType);
          res.end(text);
        },
        (err: unknown) => {
          ctx.logger.error({ err }, "metrics scrape failed");
          res.statusCode = 500;
          res.end();
        },
      );
      return;
    }
    if (req.method === "GET" && path === "/readyz") {
      // The health monitor's answer, so /readyz and grpc.health.v1 never disagree.
      const ok = opts.isAccepting() && ctx.health.status() === "SERVING";
      res.statusCode = ok ? 200 : 503;
      res.setHeader("content-type", "text/plain");
      // Degraded still serves (200); the body names what is missing, e.g. "degraded: events".
      const degraded = ctx.health.degraded();
      const body = degraded.length > 0 ? `ready, degraded: ${degraded.join(", ")}\n` : "ready\n";
      res.end(ok ? body : "not ready\n");
      return;
    }
    if (staticFiles?.(req, res)) return;
    if (corsFor(req, res)) return;
    // Calls start fairly across connections (fair-dispatch.ts); probes and files above do not
    // wait. Anything but a unary call (a stream, mostly) is heavy.
    const heavy = path === undefined || !unaryRoutes.has(path);
    dispatch(
      req,
      () => {
        if (req.destroyed) return; // the client gave up while the call waited its turn
        if (fastUnary?.request(req, res)) return;
        stalls?.watch(req, res);
        if (!("stream" in req)) {
          // HTTP/1.1: a body the handler stopped reading (a message over MAX_MESSAGE_BYTES) stays
          // on the connection, which would then never parse another request. Once answered, the
          // rest is read away, and a connection whose body does not end in time is closed.
          const socket = req.socket;
          res.once("finish", () => {
            if (req.complete) return;
            const timer = setTimeout(() => socket.destroy(), config.headersTimeoutMs);
            req.once("end", () => clearTimeout(timer));
            socket.once("close", () => clearTimeout(timer));
            if (!req.destroyed) {
              req.resume();
              return;
            }
            // connect-node destroyed the request when it stopped reading, and the connection will
            // not parse another request: keep reading what the client still sends (so closing does
            // not reset the answer away) and close our side.
            socket.resume();
            socket.end();
          });
        }
        // A stream from an address at its cap is refused before connect-node builds the call.
        if (streamLimits.refuseEarly(req, res)) return;
        rpc(req, res);
      },
      heavy,
    );
  };
  return { stream, request };
}

/** A router that also notes each unary method's implementation, by request path. */
function recordUnaryRoutes(router: ConnectRouter, into: Map<string, UnaryRoute>): ConnectRouter {
  const recording: ConnectRouter = Object.create(router);
  recording.service = (service, impl, options) => {
    for (const method of service.methods) {
      const fn = (impl as Record<string, UnaryRoute["impl"] | undefined>)[method.localName];
      if (method.methodKind === "unary" && fn) {
        into.set(`/${service.typeName}/${method.name}`, { method: method as DescMethodUnary, impl: fn });
      }
    }
    return router.service(service, impl, options);
  };
  return recording;
}
