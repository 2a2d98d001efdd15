import { httpGet } from "./proc.ts";

/**
 * Switchboard's own count of completed calls, from GET /metrics (rpc_requests_total, by
 * service, method, protocol and code). A gRPC error travels as HTTP 200 with a grpc-status
 * trailer, which h2load counts as a success; the server's count by code is what tells.
 */
export interface CallCounts {
  ok: number;
  /** Calls that ended with any other code, by code. */
  errors: Record<string, number>;
}

export async function callCounts(baseUrl: string, method: string): Promise<CallCounts> {
  return countsFrom(await httpGet(`${baseUrl}/metrics`), method);
}

/** Sums rpc_requests_total over protocols for `method` ("UserService/GetUser"). */
export function countsFrom(text: string, method: string): CallCounts {
  const [service, name] = method.split("/");
  const counts: CallCounts = { ok: 0, errors: {} };
  for (const line of text.split("\n")) {
    if (!line.startsWith("rpc_requests_total{")) continue;
    const close = line.lastIndexOf("}");
    const labels: Record<string, string> = {};
    for (const m of line.slice(0, close).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g))
      labels[m[1] ?? ""] = m[2] ?? "";
    if (!labels.service?.endsWith(`.${service}`) || labels.method !== name) continue;
    const value = Number(line.slice(close + 1).trim());
    if (labels.code === "ok") counts.ok += value;
    else counts.errors[labels.code ?? "?"] = (counts.errors[labels.code ?? "?"] ?? 0) + value;
  }
  return counts;
}

/** What happened between two scrapes. */
export function delta(before: CallCounts, after: CallCounts): CallCounts {
  const errors: Record<string, number> = {};
  for (const [code, n] of Object.entries(after.errors)) {
    const d = n - (before.errors[code] ?? 0);
    if (d !== 0) errors[code] = d;
  }
  return { ok: after.ok - before.ok, errors };
}

export function errorCount(c: CallCounts): number {
  return Object.values(c.errors).reduce((a, b) => a + b, 0);
}
