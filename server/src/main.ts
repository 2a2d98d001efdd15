import { ConfigError, loadConfig } from "./config.ts";
import { batchedStdout, createLogger } from "./logger.ts";
import { missingNodeFlags } from "./node-flags.ts";
import { startServer } from "./server.ts";

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`switchboard: bad configuration: ${err.message}\n`);
  process.exitCode = 2;
  throw new Error("exiting");
}

const logger = createLogger(config, batchedStdout());
// Started as `node server/src/main.ts` rather than by a launcher that passes node-flags.ts's list.
const missing = missingNodeFlags([...(process.env.NODE_OPTIONS ?? "").split(/\s+/), ...process.execArgv]);
if (missing.length > 0) {
  logger.warn({ missing }, "node was started without the server's flags (server/src/node-flags.ts says why)");
}
const server = await startServer(config, { logger });
logger.info({ url: server.url, tls: config.tls !== undefined }, "switchboard listening");

let signals = 0;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    signals++;
    if (signals > 1) {
      logger.warn({ signal }, "second signal, exiting now");
      process.exit(1);
    }
    logger.info({ signal }, "shutting down");
    server.stop().then(
      () => {
        logger.info("stopped");
        process.exitCode = 0;
      },
      (err: unknown) => {
        logger.error({ err }, "shutdown failed");
        process.exitCode = 1;
      },
    );
  });
}
