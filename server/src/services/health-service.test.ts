// grpc.health.v1.Health on the real server: Check and Watch per service and overall, the
// database going away and coming back, /readyz agreeing, and NOT_SERVING on shutdown.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Code, ConnectError, createConnectRouter } from "@connectrpc/connect";
import {
  Health,
  type HealthCheckResponse,
  HealthCheckResponse_ServingStatus as Status,
} from "../../../gen/grpc/health/v1/health_pb.js";
import { clientFor, type ProtocolName } from "../../test/support/clients.ts";
import { startTestServer, type TestServer } from "../../test/support/test-server.ts";
import { routes } from "../routes.ts";
import type { RunningServer } from "../server.ts";

// Probe often, so a change shows within a few tens of milliseconds.
const env = { HEALTH_CHECK_INTERVAL_MS: "20" };

/** The service names routes.ts registers, read from a router of our own. */
function registeredServices(server: RunningServer): string[] {
  const router = createConnectRouter();
  routes(server.ctx)(router);
  return [...new Set(router.handlers.map((h) => h.service.typeName))];
}

/** Makes the server's database stop answering pings until the returned function is called. */
function breakDatabase(server: RunningServer): () => void {
  const database = server.ctx.database;
  const ping = database.ping;
  database.ping = () => Promise.reject(new Error("database unreachable (test)"));
  return () => {
    database.ping = ping;
  };
}

async function readyz(server: RunningServer): Promise<number> {
  return (await fetch(`${server.url}/readyz`)).status;
}

/**
 * A Watch stream read one message at a time. `next` fails if nothing comes within `ms`;
 * `ended` resolves when the server ends the stream, however it ends it.
 */
function watch(server: RunningServer, service: string, protocol: ProtocolName = "grpc") {
  const abort = new AbortController();
  const stream = clientFor(Health, server.url, protocol).watch({ service }, { signal: abort.signal });
  const it = stream[Symbol.asyncIterator]();
  let pending: Promise<IteratorResult<HealthCheckResponse>> | undefined;
  const pull = () => {
    pending ??= it.next().finally(() => {
      pending = undefined;
    });
    return pending;
  };
  return {
    async next(ms = 5000): Promise<Status> {
      const r = await Promise.race([
        pull(),
        sleep(ms).then(() => assert.fail(`no Watch message within ${ms} ms`)),
      ]);
      if (r.done) assert.fail("the Watch stream ended");
      return r.value.status;
    },
    /** True if a message or the end arrives within `ms`. */
    async anythingWithin(ms: number): Promise<boolean> {
      return Promise.race([
        pull().then(
          () => true,
          () => true,
        ),
        sleep(ms).then(() => false),
      ]);
    },
    /** Resolves with the statuses still to come once the stream ends. */
    async rest(): Promise<Status[]> {
      const out: Status[] = [];
      try {
        for (;;) {
          const r = await pull();
          if (r.done) return out;
          out.push(r.value.status);
        }
      } catch {
        return out;
      }
    },
    cancel: () => abort.abort(),
  };
}

describe("health", () => {
  let server: TestServer;
  let services: string[];
  before(async () => {
    server = await startTestServer(env);
    services = registeredServices(server);
  });
  after(() => server.close());

  test("Check answers SERVING overall and for every registered service, on every protocol", async () => {
    assert.ok(services.includes("switchboard.v1.UserService"));
    assert.ok(services.includes("grpc.health.v1.Health"));
    for (const protocol of ["grpc", "connect-json", "grpc-web"] as const) {
      const client = clientFor(Health, server.url, protocol);
      for (const service of ["", ...services]) {
        const res = await client.check({ service });
        assert.equal(res.status, Status.SERVING, `${protocol} ${service || "(overall)"}`);
      }
    }
    assert.equal(await readyz(server), 200);
  });

  test("Check of an unknown service is NOT_FOUND", async () => {
    await assert.rejects(
      clientFor(Health, server.url, "grpc").check({ service: "no.such.Service" }),
      (err) => ConnectError.from(err).code === Code.NotFound,
    );
  });

  test("List gives every registered service and the server as a whole", async () => {
    const { statuses } = await clientFor(Health, server.url, "grpc").list({});
    // With Redis, the live-event bus is listed too, as the component switchboard.events.
    const components = server.ctx.config.redisUrl ? ["switchboard.events"] : [];
    assert.deepEqual(Object.keys(statuses).sort(), ["", ...services, ...components].sort());
    for (const s of Object.values(statuses)) assert.equal(s.status, Status.SERVING);
  });

  test("Watch follows the database: NOT_SERVING while it is away, SERVING when it is back", async () => {
    const overall = watch(server, "");
    const user = watch(server, "switchboard.v1.UserService", "connect-json");
    try {
      assert.equal(await overall.next(), Status.SERVING);
      assert.equal(await user.next(), Status.SERVING);
      const repair = breakDatabase(server);
      try {
        assert.equal(await overall.next(), Status.NOT_SERVING);
        assert.equal(await user.next(), Status.NOT_SERVING);
        // Everyone tells the same story while the database is away.
        assert.equal(await readyz(server), 503);
        const client = clientFor(Health, server.url, "grpc");
        assert.equal((await client.check({ service: "" })).status, Status.NOT_SERVING);
        assert.equal(
          (await client.check({ service: "switchboard.v1.UserService" })).status,
          Status.NOT_SERVING,
        );
      } finally {
        repair();
      }
      assert.equal(await overall.next(), Status.SERVING);
      assert.equal(await user.next(), Status.SERVING);
      assert.equal(await readyz(server), 200);
    } finally {
      overall.cancel();
      user.cancel();
    }
  });

  test("Watch of an unknown service says SERVICE_UNKNOWN and keeps the stream open", async () => {
    const w = watch(server, "no.such.Service");
    try {
      assert.equal(await w.next(), Status.SERVICE_UNKNOWN);
      assert.equal(await w.anythingWithin(200), false, "the stream stays open and quiet");
    } finally {
      w.cancel();
    }
  });
});

describe("health on shutdown", () => {
  test("every Watch stream hears NOT_SERVING before it ends, on every protocol", {
    timeout: 30_000,
  }, async () => {
    const server = await startTestServer(env);
    let closed = false;
    try {
      const watchers = [
        watch(server, "", "grpc"),
        watch(server, "switchboard.v1.UserService", "connect-json"),
        watch(server, "grpc.health.v1.Health", "grpc-web"),
        watch(server, "no.such.Service", "connect-binary-h2c"),
      ];
      assert.deepEqual(await Promise.all(watchers.map((w) => w.next())), [
        Status.SERVING,
        Status.SERVING,
        Status.SERVING,
        Status.SERVICE_UNKNOWN,
      ]);
      const rest = Promise.all(watchers.map((w) => w.rest()));
      // The first step of stop(), timed on its own: it ends as soon as every watcher has
      // passed NOT_SERVING on, well before the grace time, because each stream then ends.
      const started = Date.now();
      await server.ctx.health.shutdown(10_000);
      assert.ok(Date.now() - started < 5000, "watchers let shutdown go on once told");
      const closing = server.close().then(() => {
        closed = true;
      });
      for (const statuses of await rest) assert.deepEqual(statuses, [Status.NOT_SERVING]);
      await closing;
    } finally {
      if (!closed) await server.close();
    }
  });

  test("/readyz is 503 from the moment shutdown begins, and stays so", { timeout: 30_000 }, async () => {
    const server = await startTestServer(env);
    try {
      assert.equal(await readyz(server), 200);
      // The monitor's side of stop(), while the listener still answers.
      void server.ctx.health.shutdown(0);
      assert.equal(await readyz(server), 503);
      // Probes keep succeeding, but nothing brings a stopping server back.
      await sleep(100);
      assert.equal(await readyz(server), 503);
    } finally {
      await server.close();
    }
  });
});
