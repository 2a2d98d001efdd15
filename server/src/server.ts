import { Code, ConnectError } from "@connectrpc/connect";
import type { Config } from "./config.ts";
import { type AppContext, type ContextOverrides, createAppContext } from "./context.ts";
import { createHttpHandler } from "./http-handler.ts";
import { listen } from "./listener.ts";

/** The longest a shutdown waits for health watchers to receive NOT_SERVING. */
const healthFlushMs = 1000;

export interface RunningServer {
  readonly ctx: AppContext;
  readonly port: number;
  /** http://host:port, for clients on this machine. */
  readonly url: string;
  /** Graceful stop: refuse new work, end open streams, drain, close the database. */
  stop(): Promise<void>;
}

/** Builds and starts a server; tests call this with port 0, main.ts with the configured port. */
export async function startServer(config: Config, overrides: ContextOverrides = {}): Promise<RunningServer> {
  const ctx = await createAppContext(config, overrides);
  const shutdown = new AbortController();
  let accepting = true;
  const handler = createHttpHandler(ctx, { shutdownSignal: shutdown.signal, isAccepting: () => accepting });
  let listener: Awaited<ReturnType<typeof listen>>;
  try {
    listener = await listen(handler, config, ctx.logger);
  } catch (err) {
    await ctx.close();
    throw err;
  }
  const scheme = config.tls ? "https" : "http";
  const host = config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host;
  let stopping: Promise<void> | undefined;
  return {
    ctx,
    port: listener.port,
    url: `${scheme}://${host}:${listener.port}`,
    stop() {
      stopping ??= (async () => {
        accepting = false;
        // Health watchers hear NOT_SERVING before anything ends, so balancers drain this
        // instance first; the wait ends as soon as every watcher has passed it on.
        await ctx.health.shutdown(Math.min(config.drainTimeoutMs, healthFlushMs));
        // Open streams end now with UNAVAILABLE: clients reconnect elsewhere and resume.
        shutdown.abort(
          new ConnectError("the server is shutting down: reconnect and resume", Code.Unavailable),
        );
        await listener.close(config.drainTimeoutMs);
        await ctx.close();
      })();
      return stopping;
    },
  };
}
