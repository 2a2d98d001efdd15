// Runs `buf curl` (the binary from @bufbuild/buf) and reads back what it printed: the response
// messages on stdout, the error on stderr, and from its verbose log the HTTP version of each
// exchange, so a test can prove which transport a cell really used.
import { spawn } from "node:child_process";
import { descriptorSet, repoRoot } from "./paths.ts";

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
  args?: string[];
}

export interface BufCurlResult {
  exitCode: number;
  /** Response messages, in order. */
  messages: Record<string, unknown>[];
  stdout: string;
  /** The error buf curl printed, if the RPC failed. */
  error: { code: string; message: string; details?: unknown[] } | undefined;
  /** HTTP version of every exchange ("1.1" or "2"), reflection calls first, the RPC last. */
  httpVersions: string[];
  stderr: string;
}

export async function bufCurl(call: BufCurlCall): Promise<BufCurlResult> {
  const args = [
    "curl",
    "-v",
    ...bufProtocols[call.protocol].flags,
    ...(call.schema === "binpb" ? ["--schema", descriptorSet] : []),
    ...(call.messages ? ["-d", "@-"] : []),
    ...(call.args ?? []),
    call.procedure ? `${call.baseUrl}/${call.procedure}` : call.baseUrl,
  ];
  const child = spawn(bufBinary, args, { cwd: repoRoot, stdio: ["pipe", "pipe", "pipe"], timeout: 15_000 });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout.on("data", (b: Buffer) => stdout.push(b));
  child.stderr.on("data", (b: Buffer) => stderr.push(b));
  child.stdin.end((call.messages ?? []).map((m) => JSON.stringify(m)).join("\n"));
  const exitCode = await new Promise<number>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) => resolve(code ?? (signal ? -1 : 0)));
  });
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
    messages: parseJsonSequence(out),
    stdout: out,
    error: rest.startsWith("{") ? (JSON.parse(rest) as BufCurlResult["error"]) : undefined,
    httpVersions: log.flatMap((line) => {
      const m = /^buf: < \(#\d+\) HTTP\/(\d(?:\.\d)?) /.exec(line);
      return m?.[1] ? [m[1] === "2.0" ? "2" : m[1]] : [];
    }),
    stderr: err,
  };
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
