// Unary figures: GetUser served from Switchboard's cache, loaded with h2load, against
//   - a @grpc/grpc-js server answering the same message (gRPC, and the Connect binary
//     figure's reference too: grpc-js speaks only gRPC),
//   - a bare node:http2 server answering the pre-encoded response (the ceiling), and
//   - a Fastify route doing the same lookup (Connect JSON over HTTP/1.1).
// Every side gets the same requests (same body, same Authorization) at the same -c/-m, for a
// request count calibrated from its warm-up so that each run lasts about `seconds`; h2load's
// -D mode leaves in-flight requests uncounted, which would spoil the exact check below. Each
// run must end with every response a success: h2load's own counts (2xx, none failed), and
// the server's own count of successes (Switchboard: rpc_requests_total{code="ok"} from
// /metrics, which also sees gRPC errors sent as HTTP 200 + grpc-status; the references: their
// GET /count) equal to the requests h2load completed, with no failure counted.
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import type { ClientHttp2Session } from "node:http2";
import { join } from "node:path";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { GetUserRequestSchema, GetUserResponseSchema } from "../../gen/switchboard/v1/user_pb.js";
import { type BenchContext, busy } from "../lib/context.ts";
import { frame, openSession, startCall } from "../lib/grpc-wire.ts";
import { h2load, h2loadProblems, type LoadSpec } from "../lib/h2load.ts";
import { callCounts, errorCount } from "../lib/metrics.ts";
import { cpuSecondsOf } from "../lib/proc.ts";
import { type ReferenceServer, startReference } from "../lib/references.ts";
import { throughputFigure } from "../lib/report.ts";
import { adminToken, startSwitchboard } from "../lib/switchboard.ts";

const getUserPath = "/switchboard.v1.UserService/GetUser";
const authorization = `Bearer ${adminToken}`;

/** A Connect unary call over HTTP/1.1 (fetch): the response body's bytes, or an error. */
async function connectCall(
  baseUrl: string,
  path: string,
  body: string | Uint8Array,
  contentType: "application/json" | "application/proto",
): Promise<Buffer> {
  const res = await fetch(`${baseUrl}${path}`, {
    method: "POST",
    headers: { "content-type": contentType, "connect-protocol-version": "1", authorization },
    body: typeof body === "string" ? body : Buffer.from(body),
  });
  const bytes = Buffer.from(await res.arrayBuffer());
  if (!res.ok) throw new Error(`${path} at ${baseUrl}: HTTP ${res.status} ${bytes.toString()}`);
  return bytes;
}

/** One gRPC call over an HTTP/2 session: the response message's bytes. */
async function grpcCall(session: ClientHttp2Session, request: Uint8Array): Promise<Buffer> {
  const messages: Buffer[] = [];
  const { stream, outcome } = startCall(session, getUserPath, adminToken, (b) =>
    messages.push(Buffer.from(b)),
  );
  stream.end(frame(request));
  const end = await outcome;
  if (end.status !== 0 || messages.length !== 1) {
    throw new Error(`gRPC GetUser: status ${end.status} ${end.message}, ${messages.length} messages`);
  }
  return messages[0] as Buffer;
}

/** A Connect unary call with protobuf over h2c. */
async function connectH2c(session: ClientHttp2Session, request: Uint8Array): Promise<Buffer> {
  const stream = session.request({
    ":method": "POST",
    ":path": getUserPath,
    "content-type": "application/proto",
    "connect-protocol-version": "1",
    authorization,
  });
  const chunks: Buffer[] = [];
  let status = 0;
  stream.on("response", (h) => {
    status = Number(h[":status"]);
  });
  stream.on("data", (c: Buffer) => chunks.push(c));
  stream.end(request);
  await new Promise((resolve, reject) => {
    stream.on("close", resolve);
    stream.on("error", reject);
  });
  const body = Buffer.concat(chunks);
  if (status !== 200) throw new Error(`Connect h2c GetUser: HTTP ${status} ${body.toString()}`);
  return body;
}

interface Target {
  key: string;
  label: string;
  spec: Omit<LoadSpec, "seconds" | "requests">;
  /** Successes and failures as the server counts them. */
  counts(): Promise<{ ok: number; failed: number }>;
  /** The server's process id (for its CPU time). */
  pid: number;
}

export async function unary(ctx: BenchContext): Promise<void> {
  if (spawnSync("h2load", ["--version"], { stdio: "ignore" }).error) {
    throw new Error("h2load is not installed (Debian: apt-get install nghttp2-client)");
  }
  const sb = await startSwitchboard(ctx.pinning, {
    name: "switchboard-unary",
    databaseUrl: ctx.db.url,
    redisUrl: ctx.redisUrl,
    logDir: ctx.logDir,
  });
  // The same server with the unary fast path off: connect-node serves every call (the A/B of
  // server/src/fast-unary, same implementations, same interceptors).
  const stock = await startSwitchboard(ctx.pinning, {
    name: "switchboard-unary-stock",
    databaseUrl: ctx.db.url,
    redisUrl: ctx.redisUrl,
    logDir: ctx.logDir,
    env: { UNARY_FAST_PATH: "false" },
  });
  const references: ReferenceServer[] = [];
  const sessions: ClientHttp2Session[] = [];
  try {
    // The user, and one GetUser to put it in the cache; then its answer over each protocol.
    const created = JSON.parse(
      (
        await connectCall(
          sb.url,
          "/switchboard.v1.UserService/CreateUser",
          JSON.stringify({ name: "Bench Reader", email: `reader-${Date.now()}@bench.example`, age: 36 }),
          "application/json",
        )
      ).toString(),
    ) as { user: { id: string } };
    const id = created.user.id;
    const request = toBinary(GetUserRequestSchema, create(GetUserRequestSchema, { id }));
    const jsonRequest = JSON.stringify({ id });
    await connectCall(sb.url, getUserPath, jsonRequest, "application/json");
    const json = await connectCall(sb.url, getUserPath, jsonRequest, "application/json");
    const binary = await connectCall(sb.url, getUserPath, request, "application/proto");
    const sbSession = await openSession(sb.url);
    sessions.push(sbSession);
    const grpcAnswer = await grpcCall(sbSession, request);
    if (!grpcAnswer.equals(binary)) throw new Error("Switchboard's gRPC and Connect answers differ");
    if (fromBinary(GetUserResponseSchema, binary).user?.id !== id)
      throw new Error("GetUser answered another user");

    const env = {
      BENCH_TOKEN: adminToken,
      BENCH_USER_BINARY: binary.toString("base64"),
      BENCH_USER_JSON: json.toString("base64"),
    };
    const [grpcJs, ceiling, fastify] = await Promise.all([
      startReference(ctx.pinning, "grpc-js-server", env, ctx.logDir),
      startReference(ctx.pinning, "h2-ceiling", env, ctx.logDir),
      startReference(ctx.pinning, "fastify-server", env, ctx.logDir),
    ]);
    references.push(grpcJs, ceiling, fastify);

    // Every reference answers with exactly Switchboard's bytes.
    for (const [name, ref] of [
      ["grpc-js", grpcJs],
      ["ceiling", ceiling],
    ] as const) {
      const session = await openSession(ref.url);
      sessions.push(session);
      if (!(await grpcCall(session, request)).equals(binary)) throw new Error(`${name}: gRPC answer differs`);
    }
    const ceilingSession = sessions.at(-1) as ClientHttp2Session;
    if (!(await connectH2c(ceilingSession, request)).equals(binary))
      throw new Error("ceiling: Connect answer differs");
    if (!(await connectH2c(sbSession, request)).equals(binary))
      throw new Error("Switchboard: Connect h2c answer differs");
    const fastifyJson = await connectCall(fastify.url, getUserPath, jsonRequest, "application/json");
    if (!fastifyJson.equals(json))
      throw new Error(`Fastify answers ${fastifyJson.toString()}, Switchboard ${json.toString()}`);
    for (const s of sessions.splice(0)) s.close();

    const grpcBody = join(ctx.tmpDir, "get-user.grpc");
    const protoBody = join(ctx.tmpDir, "get-user.binpb");
    const jsonBody = join(ctx.tmpDir, "get-user.json");
    writeFileSync(grpcBody, frame(request));
    writeFileSync(protoBody, request);
    writeFileSync(jsonBody, jsonRequest);
    const h2 = { clients: 16, streams: 16 };
    const grpcLoad = (url: string) => ({
      ...h2,
      url: `${url}${getUserPath}`,
      bodyFile: grpcBody,
      headers: { "content-type": "application/grpc", te: "trailers", authorization },
    });
    const connectLoad = (url: string) => ({
      ...h2,
      url: `${url}${getUserPath}`,
      bodyFile: protoBody,
      headers: { "content-type": "application/proto", "connect-protocol-version": "1", authorization },
    });
    const jsonLoad = (url: string) => ({
      clients: 32,
      streams: 1,
      http1: true,
      url: `${url}${getUserPath}`,
      bodyFile: jsonBody,
      headers: { "content-type": "application/json", "connect-protocol-version": "1", authorization },
    });
    const sbCounts = async () => {
      const c = await callCounts(sb.url, "UserService/GetUser");
      return { ok: c.ok, failed: errorCount(c) };
    };
    const stockCounts = async () => {
      const c = await callCounts(stock.url, "UserService/GetUser");
      return { ok: c.ok, failed: errorCount(c) };
    };
    // Warm the stock server's cache with the same user.
    await connectCall(stock.url, getUserPath, jsonRequest, "application/json");
    const targets: Target[] = [
      {
        key: "sb-grpc",
        label: "Switchboard gRPC",
        spec: grpcLoad(sb.url),
        counts: sbCounts,
        pid: sb.child.pid,
      },
      {
        key: "stock-grpc",
        label: "Switchboard gRPC, connect-node path",
        spec: grpcLoad(stock.url),
        counts: stockCounts,
        pid: stock.child.pid,
      },
      {
        key: "grpcjs",
        label: "grpc-js",
        spec: grpcLoad(grpcJs.url),
        counts: () => grpcJs.count(),
        pid: grpcJs.child.pid,
      },
      {
        key: "ceiling-grpc",
        label: "ceiling gRPC",
        spec: grpcLoad(ceiling.url),
        counts: () => ceiling.count(),
        pid: ceiling.child.pid,
      },
      {
        key: "sb-connect",
        label: "Switchboard Connect",
        spec: connectLoad(sb.url),
        counts: sbCounts,
        pid: sb.child.pid,
      },
      {
        key: "ceiling-connect",
        label: "ceiling Connect",
        spec: connectLoad(ceiling.url),
        counts: () => ceiling.count(),
        pid: ceiling.child.pid,
      },
      {
        key: "sb-json",
        label: "Switchboard Connect JSON",
        spec: jsonLoad(sb.url),
        counts: sbCounts,
        pid: sb.child.pid,
      },
      {
        key: "fastify",
        label: "Fastify",
        spec: jsonLoad(fastify.url),
        counts: () => fastify.count(),
        pid: fastify.child.pid,
      },
    ];

    // Warm-up (JIT, connection pools) doubles as calibration: requests for ~`seconds` each.
    const requestsFor = new Map<string, number>();
    const warmSeconds = ctx.smoke ? 0.5 : 2;
    for (const t of targets) {
      const before = await t.counts();
      const warm = await h2load(ctx.pinning, { ...t.spec, seconds: warmSeconds });
      const after = await t.counts();
      const problems = h2loadProblems(warm, false);
      if (after.failed !== before.failed)
        problems.push(`${after.failed - before.failed} failures counted by the server`);
      if (problems.length > 0) throw new Error(`${t.label} warm-up: ${problems.join("; ")}`);
      const batch = t.spec.clients * t.spec.streams;
      requestsFor.set(t.key, Math.max(batch, Math.round((warm.rate * ctx.seconds) / batch) * batch));
      ctx.log(`  warm-up ${t.label}: ${Math.round(warm.rate)} req/s`);
    }

    const rates = new Map<string, number[]>(targets.map((t) => [t.key, []]));
    for (let round = 0; round < ctx.rounds; round++) {
      // Rotate the order each round so drift over time does not favour one side.
      const shift = round % targets.length;
      const order = [...targets.slice(shift), ...targets.slice(0, shift)];
      for (const t of order) {
        const before = await t.counts();
        const cpu = cpuSecondsOf(t.pid);
        const result = await h2load(ctx.pinning, { ...t.spec, requests: requestsFor.get(t.key) ?? 1000 });
        const serverCpu = cpuSecondsOf(t.pid) - cpu;
        const after = await t.counts();
        const problems = h2loadProblems(result);
        const ok = after.ok - before.ok;
        const failed = after.failed - before.failed;
        if (ok !== result.done)
          problems.push(`the server counted ${ok} successes for ${result.done} requests`);
        if (failed !== 0) problems.push(`the server counted ${failed} failures`);
        if (problems.length > 0) {
          ctx.fail(`${t.label}, round ${round + 1}: ${problems.join("; ")}\n    ${result.command}`);
          continue;
        }
        rates.get(t.key)?.push(result.rate);
        // The next run of this side: as many requests as last for ~`seconds` at this rate.
        const batch = t.spec.clients * t.spec.streams;
        requestsFor.set(t.key, Math.max(batch, Math.round((result.rate * ctx.seconds) / batch) * batch));
        ctx.log(
          `  round ${round + 1} ${t.label}: ${Math.round(result.rate)} req/s ` +
            `(${result.done} requests, all ok; server CPU ${busy(serverCpu, result.seconds)})`,
        );
      }
    }
    const side = (key: string, label: string) => ({ label, samples: rates.get(key) ?? [] });
    const grpcJsSide = side("grpcjs", "grpc-js");
    const ceilingGrpc = side("ceiling-grpc", "node:http2 ceiling");
    const grpcJsOfCeiling = throughputFigure("", "", grpcJsSide, ceilingGrpc, undefined).ratio ?? Number.NaN;
    ctx.record(
      throughputFigure(
        "gRPC unary GetUser (cache hit) vs grpc-js",
        "req/s",
        side("sb-grpc", "Switchboard"),
        grpcJsSide,
        1.0,
      ),
    );
    ctx.record(
      throughputFigure(
        "Connect binary unary GetUser, h2c, vs grpc-js (gRPC)",
        "req/s",
        side("sb-connect", "Switchboard"),
        grpcJsSide,
        1.0,
      ),
    );
    ctx.record(
      throughputFigure(
        "gRPC unary GetUser: unary fast path vs connect-node's own path",
        "req/s",
        side("sb-grpc", "fast path"),
        side("stock-grpc", "connect-node"),
        undefined,
      ),
    );
    ctx.record(
      throughputFigure(
        "gRPC unary GetUser vs the bare node:http2 ceiling",
        "req/s",
        side("sb-grpc", "Switchboard"),
        ceilingGrpc,
        undefined,
        `grpc-js reaches ${grpcJsOfCeiling.toFixed(2)}× of this ceiling`,
      ),
    );
    ctx.record(
      throughputFigure(
        "Connect binary unary GetUser, h2c, vs the ceiling",
        "req/s",
        side("sb-connect", "Switchboard"),
        side("ceiling-connect", "node:http2 ceiling"),
        undefined,
      ),
    );
    ctx.record(
      throughputFigure(
        "Connect JSON unary GetUser, HTTP/1.1, vs Fastify",
        "req/s",
        side("sb-json", "Switchboard"),
        side("fastify", "Fastify"),
        1.0,
      ),
    );
  } finally {
    for (const s of sessions) s.destroy();
    await Promise.all([sb.child.stop(), stock.child.stop(), ...references.map((r) => r.child.stop(2000))]);
  }
}
