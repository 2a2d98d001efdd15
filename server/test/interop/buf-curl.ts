// Runs `buf curl` (the binary from @bufbuild/buf) and reads back what it printed: the response
// messages on stdout, the error on stderr, and from its verbose log the HTTP version of each
// exchange, so a test can prove which transport a cell really used, and which exchanges carried
// the bearer token (reflection calls carry none: buf curl sends -H headers only with the RPC).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { testAdminToken } from "../support/auth.ts";
import { descriptorSet, repoRoot } from "./paths.ts";
import { type Json, type RpcClient, RpcFailure } from "./rpc-client.ts";

const bufBinary = `${repoRoot}node_modules/.bin/buf`;

/** The protocol × HTTP combinations of the matrix, as buf curl flags. */
export const bufProtocols = {
  "Connect · HTTP/1.1": { flags: ["--protocol", "connect"], http: "1.1" },
  "Connect · h2c": { flags: ["--protocol", "connect", "--http2-prior-knowledge"], http: "2" },
  "gRPC · h2c": { flags: ["--protocol", "grpc", "--http2-prior-knowledge"], http: "2" },
  "gRPC-Web · HTTP/1.1": { flags: ["--protocol", "grpcweb"], http: "1.1" },
} as const;
export type BufProtocol = keyof typeof bufProtocols;

export interface BufCurlCall {
  baseUrl: string;
  /** "switchboard.v1.UserService/CreateUser"; omitted for --list-services and the like. */
  procedure?: string;
  protocol: BufProtocol;
  /** The descriptor set, or the server's reflection service. */
  schema: "binpb" | "reflection";
  /** Request messages as JSON, written to stdin one after another (`-d @-`). */
  messages?: unknown[];
  /**
   * Sent as `-H "Authorization: Bearer <token>"`; by default the test servers' admin token,
   * null for no Authorization header.
   */
  token?: string | null;
  args?: string[];
  /**
   * For a stream that never ends by itself: once this many response messages have been
   * printed (and their onMessage calls are done), buf curl is stopped with SIGTERM.
   */
  take?: number;
  /** Runs for each response message as buf curl prints it, one at a time, in order. */
  onMessage?: (message: Record<string, unknown>, index: number) => Promise<void> | void;
}

export interface BufCurlResult {
  /** -1 when buf curl ended by a signal (see `stopped`). */
  exitCode: number;
  /** True when buf curl was stopped after `take` messages, rather than ending by itself. */
  stopped: boolean;
  /** Response messages, in order. */
  messages: Record<string, unknown>[];
  stdout: string;
  /** The error buf curl printed, if the RPC failed. */
  error: { code: string; message: string; details?: unknown[] } | undefined;
  /** HTTP version of every exchange ("1.1" or "2"), reflection calls first, the RPC last. */
  httpVersions: string[];
  /** For every exchange, in the same order: whether its request carried an Authorization header. */
  authorized: boolean[];
  stderr: string;
}

export async function bufCurl(call: BufCurlCall): Promise<BufCurlResult> {
  const token = call.token === undefined ? testAdminToken : call.token;
  const args = [
    "curl",
    "-v",
    ...bufProtocols[call.protocol].flags,
    ...(token === null ? [] : ["-H", `Authorization: Bearer ${token}`]),
    ...(call.schema === "binpb" ? ["--schema", descriptorSet] : []),
    ...(call.messages ? ["-d", "@-"] : []),
    ...(call.args ?? []),
    call.procedure ? `${call.baseUrl}/${call.procedure}` : call.baseUrl,
  ];
  // node_modules/.bin/buf is a Node script that runs the real binary as its child: buf curl runs
  // in a process group of its own, and stopping it signals the whole group.
  const child = spawn(bufBinary, args, { cwd: repoRoot, stdio: ["pipe", "pipe", "pipe"], detached: true });
  const running = () => child.exitCode === null && child.signalCode === null;
  /** Stops buf curl if it still runs; true if it did. */
  const stop = () => {
    if (!running() || child.pid === undefined) return false;
    try {
      process.kill(-child.pid, "SIGTERM");
      return true;
    } catch {
      return false; // the group is already gone
    }
  };
  const timer = setTimeout(stop, 15_000);
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  // Messages are handed to onMessage one after another as they are printed; a failing
  // onMessage stops buf curl and fails the call.
  let seen = 0;
  let handled: Promise<void> = Promise.resolve();
  let stopped = false;
  let callbackError: unknown;
  child.stdout.on("data", (b: Buffer) => {
    stdout.push(b);
    if (call.take === undefined && !call.onMessage) return;
    const printed = parseJsonSequence(Buffer.concat(stdout).toString("utf8"));
    for (; seen < printed.length; seen++) {
      const index = seen;
      const message = printed[index] as Record<string, unknown>;
      handled = handled.then(async () => {
        if (callbackError !== undefined) return;
        try {
          await call.onMessage?.(message, index);
        } catch (err) {
          callbackError = err;
          stop();
          return;
        }
        if (call.take !== undefined && index + 1 === call.take) stopped = stop();
      });
    }
  });
  child.stderr.on("data", (b: Buffer) => stderr.push(b));
  child.stdin.end((call.messages ?? []).map((m) => JSON.stringify(m)).join("\n"));
  const exitCode = await new Promise<number>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) => resolve(code ?? (signal ? -1 : 0)));
  }).finally(() => clearTimeout(timer));
  await handled;
  if (callbackError !== undefined) throw callbackError;
  const err = Buffer.concat(stderr).toString("utf8");
  const log = err.split("\n").filter((line) => line.startsWith("buf: "));
  const rest = err
    .split("\n")
    .filter((line) => !line.startsWith("buf: "))
    .join("\n")
    .trim();
  const out = Buffer.concat(stdout).toString("utf8");
  return {
    exitCode,
    stopped,
    messages: parseJsonSequence(out),
    stdout: out,
    error: rest.startsWith("{") ? (JSON.parse(rest) as BufCurlResult["error"]) : undefined,
    httpVersions: log.flatMap((line) => {
      const m = /^buf: < \(#\d+\) HTTP\/(\d(?:\.\d)?) /.exec(line);
      return m?.[1] ? [m[1] === "2.0" ? "2" : m[1]] : [];
    }),
    authorized: requestHeaders(log).map((headers) => headers.some((h) => /^authorization:/i.test(h))),
    stderr: err,
  };
}

/** The request header lines of each exchange in buf curl's verbose log ("buf: > (#n) Name: value"). */
function requestHeaders(log: string[]): string[][] {
  const byExchange = new Map<number, string[]>();
  for (const line of log) {
    const m = /^buf: > \(#(\d+)\) (.*)$/.exec(line);
    if (!m) continue;
    const n = Number(m[1]);
    if (!byExchange.has(n)) byExchange.set(n, []);
    if (m[2] && !m[2].startsWith("POST ") && !m[2].startsWith("GET ")) byExchange.get(n)?.push(m[2]);
  }
  return [...byExchange.entries()].sort(([a], [b]) => a - b).map(([, headers]) => headers);
}

/** buf curl prints each response message as an indented JSON object, one after another. */
function parseJsonSequence(text: string): Record<string, unknown>[] {
  const values: Record<string, unknown>[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (ch === "\\") i++;
      else if (ch === '"') inString = false;
    } else if (ch === '"') {
      inString = true;
    } else if (ch === "{") {
      if (depth++ === 0) start = i;
    } else if (ch === "}" && --depth === 0) {
      values.push(JSON.parse(text.slice(start, i + 1)) as Record<string, unknown>);
    }
  }
  return values;
}

/** Asserts that every exchange of the command went over this HTTP version ("1.1" or "2"). */
export function assertHttp(r: BufCurlResult, version: string): void {
  assert.ok(r.httpVersions.length > 0, `no HTTP exchange in buf curl's log:\n${r.stderr}`);
  assert.deepEqual(
    [...new Set(r.httpVersions)],
    [version],
    `expected every exchange over HTTP/${version}, got ${r.httpVersions.join(", ")}`,
  );
}

/**
 * Asserts which exchanges carried the bearer token: the RPC (the last exchange) carries it when
 * the command was given one, and reflection calls (the ones before it) never do, so reflection
 * is proved to answer without a token.
 */
export function assertAuthorization(r: BufCurlResult, rpcHasToken: boolean): void {
  assert.ok(r.authorized.length > 0, `no request in buf curl's log:\n${r.stderr}`);
  assert.deepEqual(
    r.authorized,
    [...r.authorized.slice(0, -1).map(() => false), rpcHasToken],
    "the RPC carries the token it was given; reflection requests carry none",
  );
}

/**
 * buf curl as an RpcClient, calling as `token` (default: the test servers' admin token; null:
 * none): each call is one buf curl command with the protocol's flags, and must have gone over
 * the protocol's HTTP version (a bidi call on an HTTP/1.1 row cannot: buf curl switches it to
 * h2c), with the token on the RPC only. A stream with `take` must still be running when that
 * many messages are in, and is then stopped, which closes its connection.
 */
export function bufCurlClient(
  baseUrl: string,
  protocol: BufProtocol,
  schema: "binpb" | "reflection",
  token: string | null = testAdminToken,
): RpcClient {
  const run = async (procedure: string, requests: Json[], options: Partial<BufCurlCall> = {}) => {
    const r = await bufCurl({ baseUrl, procedure, protocol, schema, messages: requests, token, ...options });
    assertHttp(r, bufProtocols[protocol].http);
    assertAuthorization(r, token !== null);
    if (r.stopped) return r.messages;
    if (r.error) throw new RpcFailure(r.error.code, r.error.message);
    assert.equal(r.exitCode, 0, `buf curl failed:\n${r.stderr}`);
    return r.messages;
  };
  return {
    async unary(procedure, request) {
      const messages = await run(procedure, [request]);
      assert.equal(messages.length, 1, `${procedure} answered ${messages.length} messages`);
      return messages[0] as Json;
    },
    async serverStream(procedure, request, { take, onMessage } = {}) {
      const messages = await run(procedure, [request], {
        ...(take === undefined ? {} : { take }),
        ...(onMessage ? { onMessage } : {}),
      });
      if (take !== undefined) {
        assert.ok(messages.length >= take, `${procedure} ended after ${messages.length} of ${take} messages`);
      }
      return messages;
    },
    // All requests go to stdin at once and stdin closes: buf curl sends them and half-closes
    // without waiting for any answer (awaitReplies does not apply).
    bidiStream(procedure, requests) {
      return run(procedure, requests);
    },
  };
}
