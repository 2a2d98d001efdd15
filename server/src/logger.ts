import { pino } from "pino";
import type { Config } from "./config.ts";

export type Logger = pino.Logger;

/**
 * Fields that must never reach a log line, wherever a caller puts them: credentials in
 * request headers, and password or token fields up to two levels deep.
 */
export const redactedPaths = [
  "authorization",
  "cookie",
  "password",
  "token",
  "*.authorization",
  "*.cookie",
  '*["proxy-authorization"]',
  '*["set-cookie"]',
  "*.password",
  "*.token",
  "*.*.password",
  "*.*.token",
  "*.currentPassword",
  "*.newPassword",
  "*.adminToken",
];

/**
 * One root logger; subsystems take a child named after themselves, calls one with their
 * request and trace ids (interceptors/request-log.ts). `destination` is for tests.
 */
export function createLogger(config: Pick<Config, "logLevel">, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level: config.logLevel,
    base: { service: "switchboard" },
    redact: { paths: redactedPaths, censor: "[redacted]" },
  };
  return destination ? pino(options, destination) : pino(options);
}

/**
 * Standard output, written asynchronously: lines that come while a write is in flight go out
 * together in the next one. Written synchronously, the completion line of every call was its
 * own write(2), about 7% of a small call's CPU under load. When idle a line still goes out at
 * once (no minimum length). Lines still buffered when the process exits are flushed then.
 */
export function asyncStdout(): pino.DestinationStream {
  const stream = pino.destination({ dest: 1, sync: false });
  process.once("exit", () => {
    try {
      stream.flushSync();
    } catch {
      // Nothing left to write, or stdout is gone: nothing more can be done on the way out.
    }
  });
  return stream;
}
