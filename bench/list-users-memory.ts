// Measures the server's resident memory while it streams a large ListUsers: the figure the
// foundation issue asks for ("within 50 MB of idle"). Starts its own server process on a
// fresh embedded database (or DATABASE_URL), fills it through BatchCreateUsers, then reads
// the whole table over gRPC while sampling the server's RSS from /proc. It calls as the admin
// token it gives the server, with the rate limits off (bench/auth.ts).
//
//   node bench/list-users-memory.ts [rows=100000]
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { UserService } from "../gen/switchboard/v1/user_pb.js";
import { asAdmin, benchAuth, limitsOff } from "./auth.ts";
import { serverNodeArgs } from "./lib/switchboard.ts";

const rows = Number(process.argv[2] ?? 100_000);
const port = 18000 + Math.floor(Math.random() * 1000);
const dataDir = mkdtempSync(join(tmpdir(), "switchboard-bench-"));
const root = new URL("..", import.meta.url).pathname;

const server = spawn(process.execPath, [...serverNodeArgs(), "server/src/main.ts"], {
  cwd: root,
  env: {
    ...limitsOff,
    ...process.env,
    ...benchAuth,
    PORT: String(port),
    HOST: "127.0.0.1",
    DATA_DIR: dataDir,
    LOG_LEVEL: "warn",
  },
  stdio: ["ignore", "inherit", "inherit"],
});
const rssMb = () => {
  const status = readFileSync(`/proc/${server.pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
};

try {
  const baseUrl = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${baseUrl}/readyz`)).ok) break;
    } catch {}
    if (i > 600) throw new Error("server did not start");
    await new Promise((r) => setTimeout(r, 100));
  }
  const client = createClient(UserService, createGrpcTransport({ baseUrl, interceptors: [asAdmin] }));
  const run = `${Date.now()}`;
  const fill = await client.batchCreateUsers(
    (async function* () {
      for (let i = 0; i < rows; i++)
        yield { name: `user ${i}`, email: `u${i}-${run}@bench.example`, age: 30 };
    })(),
  );
  if (fill.successCount !== rows) throw new Error(`inserted ${fill.successCount} of ${rows}`);
  global.gc?.();
  await new Promise((r) => setTimeout(r, 2000));
  const idle = rssMb();
  let peak = idle;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssMb());
  }, 20);
  const started = performance.now();
  let count = 0;
  for await (const res of client.listUsers({ pageSize: 500 })) {
    if (res.user) count++;
  }
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  if (count !== rows) throw new Error(`streamed ${count} of ${rows}`);
  console.log(
    `ListUsers ${rows} rows: ${(rows / seconds).toFixed(0)} rows/s; server RSS idle ${idle.toFixed(1)} MB, ` +
      `peak ${peak.toFixed(1)} MB, growth ${(peak - idle).toFixed(1)} MB`,
  );
} finally {
  server.kill("SIGTERM");
  await new Promise((r) => server.once("exit", r));
  rmSync(dataDir, { recursive: true, force: true });
}
