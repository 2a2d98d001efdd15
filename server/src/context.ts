import type { Config } from "./config.ts";
import { type Database, openDatabase } from "./db/database.ts";
import { createLogger, type Logger } from "./logger.ts";
import { type CheckMessage, createMessageChecker } from "./validation.ts";

/**
 * The long-lived dependencies of one server process, built once from config and handed
 * explicitly to everything that needs them. Tests replace parts through `overrides`.
 */
export interface AppContext {
  readonly config: Config;
  readonly logger: Logger;
  readonly database: Database;
  readonly checkMessage: CheckMessage;
  /** Releases everything the context opened. */
  close(): Promise<void>;
}

export interface ContextOverrides {
  logger?: Logger;
  database?: Database;
}

export async function createAppContext(
  config: Config,
  overrides: ContextOverrides = {},
): Promise<AppContext> {
  const logger = overrides.logger ?? createLogger(config);
  const database =
    overrides.database ??
    (await openDatabase({
      databaseUrl: config.databaseUrl,
      dataDir: config.dataDir,
      poolSize: config.databasePoolSize,
      logger: logger.child({ subsystem: "db" }),
    }));
  return {
    config,
    logger,
    database,
    checkMessage: createMessageChecker(),
    async close() {
      await database.close();
    },
  };
}
