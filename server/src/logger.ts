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
