import { randomFillSync, randomUUID } from "node:crypto";
import { ConnectError, createContextKey, type HandlerContext, type Interceptor } from "@connectrpc/connect";
import { trace } from "@opentelemetry/api";
import type { Logger } from "../logger.ts";
import { codeName, observeCalls, perMethodAndProtocol, protocolOf } from "./call-end.ts";
import { completionLine } from "./completion-line.ts";

/** The ids of the call in progress, and its child logger once someone asked for it. */
interface CallLog {
  requestId: string;
  traceId: string;
  child: Logger | undefined;
}

/** Undefined outside a call (or before this interceptor). */
const callLogKey = createContextKey<CallLog | undefined>(undefined);

/**
 * The logger for code running in a call: every line carries the call's request id and trace
 * id. Falls back to `fallback` where no call logger was set (unit tests of a service). The
 * child logger is made on first use: most calls never log anything but their last line,
 * and a pino child with redaction costs more than the rest of a small call's logging.
 */
export function callLogger(ctx: Pick<HandlerContext, "values">, fallback: Logger): Logger {
  const call = ctx.values.get(callLogKey);
  if (!call) return fallback;
  call.child ??= fallback.child({ requestId: call.requestId, traceId: call.traceId });
  return call.child;
}

/** A request id a client may send and we may log: no spaces or control characters. */
const acceptableRequestId = /^[\w.:/+=-]{1,128}$/;
const traceparent = /^[\da-f]{2}-([\da-f]{32})-[\da-f]{16}-[\da-f]{2}$/;

/**
 * Gives each call a child logger with its request id (the client's x-request-id, else a
 * fresh one, echoed back in x-request-id) and trace id (the server span's, else the incoming
 * traceparent's, else a fresh one, so lines of one call can be found together even with
 * tracing off), logs the request headers at debug (credentials redacted by the root logger's
 * `redact`), and one line per completed call at info.
 */
export function requestLogInterceptor(logger: Logger): Interceptor {
  // The completion line holds only fields this file sets (ids, method, protocol, code, time),
  // so it skips the root logger's redaction, whose wildcard paths cost more than writing the
  // line itself. The debug line with request headers keeps it.
  const completions = logger.child({}, { redact: [] });
  const freshTraceId = createTraceIds();
  // One child per method and protocol: pino serializes a child's bindings once, so each line
  // serializes only what changes per call.
  const completionsOf = perMethodAndProtocol((method, protocol) =>
    completionLine(completions.child({ method: `${method.parent.typeName}/${method.name}`, protocol })),
  );
  return (next) => {
    const observed = observeCalls((req) => {
      const started = performance.now();
      const call = req.contextValues.get(callLogKey);
      const protocol = protocolOf(req.header);
      if (logger.isLevelEnabled("debug")) {
        const method = `${req.service.typeName}/${req.method.name}`;
        const headers: Record<string, string> = {};
        req.header.forEach((value, name) => {
          headers[name] = value;
        });
        logger.debug(
          { requestId: call?.requestId, traceId: call?.traceId, method, protocol, headers },
          "call started",
        );
      }
      return (err) => {
        const code = codeName(err);
        const durationMs = Math.round((performance.now() - started) * 1000) / 1000;
        completionsOf(req.method, protocol)(call?.requestId ?? "", call?.traceId ?? "", code, durationMs);
      };
    })(next);
    return async (req) => {
      const sent = req.header.get("x-request-id");
      const requestId = sent && acceptableRequestId.test(sent) ? sent : randomUUID();
      req.contextValues.set(callLogKey, {
        requestId,
        traceId: traceIdOf(req.header, freshTraceId),
        child: undefined,
      });
      try {
        const res = await observed(req);
        res.header.set("x-request-id", requestId);
        return res;
      } catch (err) {
        if (err instanceof ConnectError) err.metadata.set("x-request-id", requestId);
        throw err;
      }
    };
  };
}

function traceIdOf(header: Headers, fresh: () => string): string {
  const span = trace.getActiveSpan()?.spanContext();
  if (span && trace.isSpanContextValid(span)) return span.traceId;
  const incoming = traceparent.exec(header.get("traceparent") ?? "")?.[1];
  if (incoming && !/^0+$/.test(incoming)) return incoming;
  return fresh();
}

/**
 * Makes fresh trace ids: 128 random bits as 32 hex digits, drawn from a pool refilled 4 KiB
 * at a time (a UUID with its dashes removed cost five times as much, and showed in profiles
 * of small calls).
 */
export function createTraceIds(): () => string {
  const pool = Buffer.alloc(4096);
  let at = pool.length;
  return () => {
    if (at + 16 > pool.length) {
      randomFillSync(pool);
      at = 0;
    }
    at += 16;
    return pool.toString("hex", at - 16, at);
  };
}
