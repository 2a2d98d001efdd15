import { pino } from "pino";
import type { Config } from "./config.ts";

export type Logger = pino.Logger;

/** One root logger; subsystems take a child named after themselves. */
export function createLogger(config: Pick<Config, "logLevel">): Logger {
  return pino({ level: config.logLevel, base: { service: "switchboard" } });
}
