// Runs plain curl over HTTP/1.1 and splits its output into status, headers and body.
import { spawn } from "node:child_process";
import { testAdminToken } from "../support/auth.ts";
import { type Json, type RpcClient, RpcFailure } from "./rpc-client.ts";

export interface CurlResponse {
  status: number;
  /** Lower-cased header names. */
  headers: Record<string, string>;
  body: Buffer;
}

/** `curl -i --http1.1 [args] url`, with `body` (if any) sent from stdin as the request content. */
export async function curl(url: string, args: string[], body?: Buffer | string): Promise<CurlResponse> {
  const child = spawn(
    "curl",
    // No "Expect: 100-continue": it would put a second status line in the output.
    [
      "-sS",
      "-i",
      "--http1.1",
      "-H",
      "Expect:",
      ...(body === undefined ? [] : ["--data-binary", "@-"]),
      ...args,
      url,
    ],
    { stdio: ["pipe", "pipe", "pipe"], timeout: 15_000 },
  );
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on("data", (b: Buffer) => out.push(b));
  child.stderr.on("data", (b: Buffer) => err.push(b));
  child.stdin.end(body);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", resolve);
  });
  if (code !== 0) throw new Error(`curl exited with ${code}: ${Buffer.concat(err).toString()}`);
  const raw = Buffer.concat(out);
  const end = raw.indexOf("\r\n\r\n");
  const [statusLine = "", ...lines] = raw.subarray(0, end).toString("latin1").split("\r\n");
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(statusLine.split(" ")[1]), headers, body: raw.subarray(end + 4) };
}

/** `-H "authorization: Bearer <token>"`, or nothing for a null token. */
export function bearerHeader(token: string | null): string[] {
  return token === null ? [] : ["-H", `authorization: Bearer ${token}`];
}

/**
 * curl as an RpcClient for unary calls only: a Connect JSON POST over HTTP/1.1, calling as
 * `token` (default: the test servers' admin token; null: no Authorization header). An error is
 * the Connect error body ({ code, message }) with a non-200 status.
 */
export function curlRpcClient(baseUrl: string, token: string | null = testAdminToken): RpcClient {
  const unsupported = (kind: string) => () =>
    Promise.reject(new Error(`curl speaks unary Connect JSON here, not ${kind}`));
  return {
    async unary(procedure, request) {
      const res = await curl(
        `${baseUrl}/${procedure}`,
        [
          "-X",
          "POST",
          "-H",
          "content-type: application/json",
          "-H",
          "connect-protocol-version: 1",
          ...bearerHeader(token),
        ],
        JSON.stringify(request),
      );
      const body = JSON.parse(res.body.toString()) as Json;
      if (res.status !== 200) throw new RpcFailure(String(body.code), String(body.message ?? ""));
      return body;
    },
    serverStream: unsupported("server streams"),
    bidiStream: unsupported("bidi streams"),
  };
}
