import { pino } from "pino";
import type { Logger } from "../logger.ts";

/** Writes one call's "call completed" line through a logger bound to its method and protocol. */
export type CompletionLine = (requestId: string, traceId: string, code: string, durationMs: number) => void;

/** Characters a request id or trace id may hold without JSON escaping (request-log.ts checks ids). */
const plain = /^[\w.:/+=-]*$/;

/**
 * The completion line is the one line every call writes, so it is written the way pino would
 * write it, from the pieces pino keeps for the logger (its level prefix, time, bindings and
 * line end, through `pino.symbols`), without pino's general path: that walks the line's object
 * key by key, looking up serializers and stringifiers for each, and was most of what a small
 * call spent on logging. The bytes are pino's own: a test compares them with pino's output.
 * A logger with anything that would change the line (a mixin, log formatter, write hook,
 * message prefix, another message key, a destination that wants metadata) gets pino's path.
 */
export function completionLine(logger: Logger): CompletionLine {
  const slow: CompletionLine = (requestId, traceId, code, durationMs) =>
    logger.info({ requestId, traceId, code, durationMs }, "call completed");
  const internals = logger as unknown as Record<symbol, unknown>;
  // (Some of pino's symbols are missing from its type declarations.)
  const s = pino.symbols as unknown as Record<string, symbol>;
  const formatters = internals[s.formattersSym as symbol] as { log?: unknown } | undefined;
  const hooks = internals[s.hooksSym as symbol] as { streamWrite?: unknown } | undefined;
  const stream = internals[s.streamSym as symbol] as { write(line: string): unknown } | undefined;
  const levels = internals[s.lsCacheSym as symbol] as Record<number, string> | undefined;
  const time = internals[s.timeSym as symbol] as (() => string) | undefined;
  const chindings = internals[s.chindingsSym as symbol];
  const end = internals[s.endSym as symbol];
  const usable =
    internals[s.mixinSym as symbol] === undefined &&
    formatters !== undefined &&
    formatters.log === undefined &&
    hooks !== undefined &&
    hooks.streamWrite === undefined &&
    !internals[s.msgPrefixSym as symbol] &&
    internals[s.messageKeySym as symbol] === "msg" &&
    stream !== undefined &&
    (stream as Record<symbol, unknown>)[s.needsMetadataGsym as symbol] !== true &&
    typeof levels?.[30] === "string" &&
    typeof time === "function" &&
    typeof chindings === "string" &&
    typeof end === "string";
  if (!usable) return slow;
  const info = levels[30] as string;
  return (requestId, traceId, code, durationMs) => {
    if (!logger.isLevelEnabled("info")) return;
    if (!plain.test(requestId) || !plain.test(traceId)) {
      slow(requestId, traceId, code, durationMs);
      return;
    }
    stream.write(
      `${info}${time.call(logger)}${chindings},"requestId":"${requestId}","traceId":"${traceId}","code":"${code}","durationMs":${Number.isFinite(durationMs) ? durationMs : null},"msg":"call completed"${end}`,
    );
  };
}
