// Shared pieces of the attack suite: clients that carry extra headers (a client address behind
// a trusted proxy), tokens made by hand (forged, expired, unsigned), outcome tallies, and the
// bystander: a signed-in user calling steadily on a connection of its own, whose latency is
// measured before and during each attack and written to test-results/attack-report.md.
import assert from "node:assert/strict";
import { appendFileSync, mkdirSync, writeFileSync } from "node:fs";
import type { DescService } from "@bufbuild/protobuf";
import {
  type Client,
  Code,
  ConnectError,
  createClient,
  type Interceptor,
  type Transport,
} from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import type { SQL } from "drizzle-orm";
import { SignJWT } from "jose";
import { bearer, testAuthSecret } from "../support/auth.ts";
import type { ProtocolName } from "../support/clients.ts";
import type { TestServer } from "../support/test-server.ts";
import type { WindowStats } from "./isolated-server.ts";

/** Adds fixed request headers, e.g. X-Forwarded-For for a server started with TRUST_PROXY. */
function withHeaders(headers: Record<string, string>): Interceptor {
  return (next) => (req) => {
    for (const [name, value] of Object.entries(headers)) req.header.set(name, value);
    return next(req);
  };
}

/**
 * The attack suite's server limits: production defaults for the rate and stream limits; the
 * write timeout and message cap smaller, to keep the runs short.
 */
export const attackLimits: Record<string, string> = {
  RATE_LIMIT_USER_PER_SECOND: "10",
  RATE_LIMIT_USER_BURST: "40",
  RATE_LIMIT_ADDRESS_PER_SECOND: "100",
  RATE_LIMIT_ADDRESS_BURST: "200",
  MAX_STREAMS_PER_USER: "32",
  MAX_STREAMS_PER_ADDRESS: "512",
  MAX_CONCURRENT_STREAMS: "100",
  STREAM_WRITE_TIMEOUT_MS: "1000",
  MAX_MESSAGE_BYTES: "65536",
  // Each attacker gets an address of its own (X-Forwarded-For), as distinct clients would have.
  TRUST_PROXY: "true",
};

/** A transport like support/clients.ts's, plus `headers` on every call. Each is its own connection. */
export function transportAs(
  protocol: ProtocolName,
  baseUrl: string,
  token: string | null,
  headers: Record<string, string> = {},
  /**
   * HTTP/2 only: node:http2's cap on what one session may buffer (MB, default 10). Past it
   * the client resets its own new streams with ENHANCE_YOUR_CALM, which a flood (thousands
   * of queued requests, or megabytes of request bodies) reaches on the client side first.
   */
  maxSessionMemory?: number,
): Transport {
  const interceptors = [bearer(token), withHeaders(headers)];
  const nodeOptions = maxSessionMemory === undefined ? {} : { nodeOptions: { maxSessionMemory } };
  switch (protocol) {
    case "connect-json":
      return createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: false, interceptors });
    case "connect-binary-h2c":
      return createConnectTransport({
        baseUrl,
        httpVersion: "2",
        useBinaryFormat: true,
        interceptors,
        ...nodeOptions,
      });
    case "grpc":
      return createGrpcTransport({ baseUrl, interceptors, ...nodeOptions });
    case "grpc-web":
      return createGrpcWebTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true, interceptors });
  }
}

export function clientAs<S extends DescService>(
  service: S,
  baseUrl: string,
  protocol: ProtocolName,
  token: string | null,
  headers: Record<string, string> = {},
): Client<S> {
  return createClient(service, transportAs(protocol, baseUrl, token, headers));
}

/** An X-Forwarded-For header naming one made-up client address (servers here trust it). */
export function fromAddress(address: string): Record<string, string> {
  return { "x-forwarded-for": address };
}

export interface TokenOptions {
  sub: string;
  role?: string;
  /** Seconds from now; negative for a token that has expired. */
  expiresIn?: number;
  key?: string;
  alg?: "HS256" | "HS384" | "HS512";
  issuer?: string;
  audience?: string;
}

/** A JWT made by hand; with the defaults it is exactly what the test servers issue. */
export async function mintToken(opts: TokenOptions): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const expiresIn = opts.expiresIn ?? 3600;
  return new SignJWT({ role: opts.role ?? "user" })
    .setProtectedHeader({ alg: opts.alg ?? "HS256", typ: "JWT" })
    .setSubject(opts.sub)
    .setIssuer(opts.issuer ?? "switchboard")
    .setAudience(opts.audience ?? "switchboard")
    .setIssuedAt(Math.min(now, now + expiresIn - 60))
    .setExpirationTime(now + expiresIn)
    .sign(new TextEncoder().encode(opts.key ?? testAuthSecret));
}

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

/** An unsigned token (alg "none"), the classic verifier bypass. */
export function unsignedToken(claims: Record<string, unknown>): string {
  return `${b64url({ alg: "none", typ: "JWT" })}.${b64url(claims)}.`;
}

/** `token` with its payload rewritten by `edit`, keeping the original signature. */
export function tamperedToken(token: string, edit: (claims: Record<string, unknown>) => void): string {
  const [header, payload, signature] = token.split(".");
  const claims = JSON.parse(Buffer.from(payload ?? "", "base64url").toString()) as Record<string, unknown>;
  edit(claims);
  return `${header}.${b64url(claims)}.${signature}`;
}

/** The claims of a JWT, unverified. */
export function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString()) as Record<
    string,
    unknown
  >;
}

/** A code's canonical name, e.g. NOT_FOUND. */
export function codeName(code: Code): string {
  return (Code[code] ?? String(code)).replace(/[A-Z]/g, (c, i: number) => (i ? "_" : "") + c).toUpperCase();
}

/** "OK", or the canonical name of the code the call failed with. */
export async function outcome(call: Promise<unknown> | (() => Promise<unknown>)): Promise<string> {
  try {
    await (typeof call === "function" ? call() : call);
    return "OK";
  } catch (err) {
    return codeName(ConnectError.from(err).code);
  }
}

/** Asserts that `call` fails with `code` and returns the error. */
export async function expectCode(
  call: Promise<unknown> | (() => Promise<unknown>),
  code: Code,
  what = "the call",
): Promise<ConnectError> {
  try {
    await (typeof call === "function" ? call() : call);
  } catch (err) {
    const ce = ConnectError.from(err);
    assert.equal(codeName(ce.code), codeName(code), `${what}: ${ce.message}`);
    return ce;
  }
  assert.fail(`${what} succeeded; want ${codeName(code)}`);
}

/** The first message of a server stream, or its error: how a stream's opening is checked. */
export async function firstOf<T>(stream: AsyncIterable<T>): Promise<T | undefined> {
  for await (const item of stream) return item;
  return undefined;
}

export type Tally = Record<string, number>;

export function tally(outcomes: Iterable<string>, into: Tally = {}): Tally {
  for (const o of outcomes) into[o] = (into[o] ?? 0) + 1;
  return into;
}

export function formatTally(t: Tally): string {
  return Object.entries(t)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
}

/** Runs `tasks` with at most `limit` at once. */
export async function pool<T>(limit: number, tasks: (() => Promise<T>)[]): Promise<T[]> {
  const out: T[] = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++;
      out[i] = await (tasks[i] as () => Promise<T>)();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return out;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

export interface LatencyStats {
  /** Calls that started in the window. */
  n: number;
  /** Of those, the ones that failed. */
  errors: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** The first failure's message, if any. */
  firstError?: string;
}

interface Sample {
  start: number;
  ms: number;
  error?: string;
}

export interface Bystander {
  /** Starts a measuring window; end() waits for the call in flight and returns the window's stats. */
  window(): { end(): Promise<LatencyStats> };
  stop(): Promise<void>;
}

/**
 * Calls `call` in a steady loop (one at a time, `pauseMs` apart) and records each call's
 * latency. Give it a client of its own, so it has a connection of its own.
 */
export function startBystander(call: () => Promise<unknown>, pauseMs = 5): Bystander {
  const samples: Sample[] = [];
  let running = true;
  let inFlight: Promise<void> = Promise.resolve();
  const loop = (async () => {
    while (running) {
      const start = performance.now();
      let error: string | undefined;
      inFlight = call().then(
        () => {},
        (err: unknown) => {
          error = ConnectError.from(err).message;
        },
      );
      await inFlight;
      samples.push({ start, ms: performance.now() - start, ...(error ? { error } : {}) });
      await new Promise((r) => setTimeout(r, pauseMs));
    }
  })();
  return {
    window() {
      const from = performance.now();
      return {
        async end() {
          const to = performance.now();
          await inFlight;
          const inWindow = samples.filter((s) => s.start >= from && s.start <= to);
          const ms = inWindow.filter((s) => !s.error).map((s) => s.ms);
          ms.sort((a, b) => a - b);
          const failed = inWindow.filter((s) => s.error);
          return {
            n: inWindow.length,
            errors: failed.length,
            p50: percentile(ms, 50),
            p90: percentile(ms, 90),
            p99: percentile(ms, 99),
            max: ms.at(-1) ?? Number.NaN,
            ...(failed[0]?.error ? { firstError: failed[0].error } : {}),
          };
        },
      };
    },
    async stop() {
      running = false;
      await loop;
    },
  };
}

const reportUrl = new URL("../../../test-results/attack-report.md", import.meta.url);
/** The same figures, for comparing runs by script. */
const reportJsonUrl = new URL("../../../test-results/attack-report.json", import.meta.url);

export interface AttackRow {
  attack: string;
  /** What the attacker sent, e.g. "10,000 CreateOrder". */
  sent: string;
  /** How the server answered, e.g. { RESOURCE_EXHAUSTED: 9950, OK: 50 }. */
  answers: Tally | string;
  baseline: LatencyStats;
  during: LatencyStats;
  /** The bystander in a quiet window just before the attack, under the machine's load of the moment. */
  quiet?: LatencyStats;
  /** The server's own measurements during the attack (CPU, allocation, event-loop delay, GC). */
  serverStats?: WindowStats;
}

const gcNames: Record<string, string> = {
  Scavenge: "scavenge",
  MarkSweepCompact: "mark-compact",
  IncrementalMarking: "incremental marking",
  ProcessWeakCallbacks: "weak callbacks",
};

/** The server's own view of an attack, for the report. */
function serverLine(s: WindowStats): string {
  const gc = Object.entries(s.gc)
    .sort((a, b) => b[1].ms - a[1].ms)
    .map(([kind, g]) => `${gcNames[kind] ?? kind} ${g.n}× ${g.ms.toFixed(0)} ms (max ${g.maxMs.toFixed(1)})`)
    .join(", ");
  return `CPU ${s.cpuMs.toFixed(0)} ms in ${(s.wallMs / 1000).toFixed(1)} s; allocated ${s.allocatedMb.toFixed(0)} MB (heap ${s.heapAfterMb.toFixed(0)} MB after); loop delay p99 ${s.loopDelayP99Ms.toFixed(1)} / max ${s.loopDelayMaxMs.toFixed(1)} ms; GC ${gc || "none"}`;
}

const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : "–");

/** The attack report: a Markdown table, rewritten when a run starts, also printed as it grows. */
export function startAttackReport(intro: string): { add(row: AttackRow): string } {
  mkdirSync(new URL(".", reportUrl), { recursive: true });
  const header = [
    "# Attack report",
    "",
    intro,
    "",
    "| attack | sent | answered | bystander calls (errors) | p50 ms: baseline → during | p99 ms: baseline (just before) → during | p99 ratio (to just before) | server during the attack |",
    "|---|---|---|---|---|---|---|---|",
  ].join("\n");
  writeFileSync(reportUrl, `${header}\n`);
  console.log(header);
  const rows: AttackRow[] = [];
  return {
    add(row) {
      rows.push(row);
      writeFileSync(reportJsonUrl, `${JSON.stringify(rows, null, 1)}\n`);
      const answers = typeof row.answers === "string" ? row.answers : formatTally(row.answers);
      const ratio = (to: LatencyStats) => {
        const r = row.during.p99 / to.p99;
        return Number.isFinite(r) ? `${r.toFixed(2)}×` : "–";
      };
      const line =
        `| ${row.attack} | ${row.sent} | ${answers} | ${row.during.n} (${row.during.errors}) | ` +
        `${ms(row.baseline.p50)} → ${ms(row.during.p50)} | ${ms(row.baseline.p99)}${row.quiet ? ` (${ms(row.quiet.p99)})` : ""} → ${ms(row.during.p99)} | ` +
        `${ratio(row.baseline)}${row.quiet ? ` (${ratio(row.quiet)})` : ""} | ${row.serverStats ? serverLine(row.serverStats) : ""} |`;
      appendFileSync(reportUrl, `${line}\n`);
      console.log(line);
      return line;
    },
  };
}

/** Rows of a raw query on the server's own database (PostgreSQL or embedded PGlite alike). */
export async function queryRows<T>(server: TestServer, query: SQL): Promise<T[]> {
  const result = (await server.ctx.database.db.execute(query)) as unknown;
  return (Array.isArray(result) ? result : (result as { rows: T[] }).rows) as T[];
}
