// A raw client for the protocol-error cells: sends exactly the bytes and headers a case needs
// over HTTP/1.1 or h2c, and reads the answer the way each protocol's spec says a client must
// (HTTP status, trailers, Trailers-Only, envelopes), without any RPC library in between.
import * as http from "node:http";
import * as http2 from "node:http2";

export interface Exchange {
  status: number;
  headers: Record<string, string>;
  trailers: Record<string, string>;
  body: Buffer;
  /** HTTP/2 only: the response HEADERS frame carried END_STREAM (a Trailers-Only response). */
  headersEndStream: boolean;
  elapsedMs: number;
}

export interface Request {
  http: "1.1" | "2";
  path: string;
  method?: string;
  headers: Record<string, string>;
  body: Buffer;
}

export async function exchange(baseUrl: string, req: Request): Promise<Exchange> {
  const started = Date.now();
  const res = await (req.http === "2" ? exchangeH2(baseUrl, req) : exchangeH1(baseUrl, req));
  return { ...res, elapsedMs: Date.now() - started };
}

type Raw = Omit<Exchange, "elapsedMs">;

function flat(headers: http.IncomingHttpHeaders | http2.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers))
    if (v !== undefined) out[k] = Array.isArray(v) ? v.join(", ") : `${v}`;
  return out;
}

function exchangeH1(baseUrl: string, req: Request): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const r = http.request(
      new URL(req.path, baseUrl),
      {
        method: req.method ?? "POST",
        agent: false,
        headers: { ...req.headers, "content-length": String(req.body.length) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: flat(res.headers),
            trailers: flat(res.trailers),
            body: Buffer.concat(chunks),
            headersEndStream: false,
          }),
        );
      },
    );
    r.on("error", reject);
    r.end(req.body);
  });
}

function exchangeH2(baseUrl: string, req: Request): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(baseUrl);
    session.on("error", reject);
    const stream = session.request({ ":method": req.method ?? "POST", ":path": req.path, ...req.headers });
    let status = 0;
    let headers: Record<string, string> = {};
    let trailers: Record<string, string> = {};
    let headersEndStream = false;
    const chunks: Buffer[] = [];
    stream.on("response", (h, flags) => {
      status = Number(h[":status"]);
      headers = flat(h);
      headersEndStream = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0;
    });
    stream.on("trailers", (t) => {
      trailers = flat(t);
    });
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("error", reject);
    stream.on("close", () => {
      session.close();
      resolve({ status, headers, trailers, body: Buffer.concat(chunks), headersEndStream });
    });
    stream.end(req.body);
  });
}

/** One length-prefixed message: the framing of gRPC, gRPC-Web and Connect streams. */
export function envelope(payload: Buffer | string, flags = 0): Buffer {
  const data = Buffer.from(payload);
  const head = Buffer.alloc(5);
  head.writeUInt8(flags, 0);
  head.writeUInt32BE(data.length, 1);
  return Buffer.concat([head, data]);
}

export function envelopes(body: Buffer): { flags: number; data: Buffer }[] {
  const out: { flags: number; data: Buffer }[] = [];
  for (let i = 0; i + 5 <= body.length; ) {
    const length = body.readUInt32BE(i + 1);
    out.push({ flags: body.readUInt8(i), data: body.subarray(i + 5, i + 5 + length) });
    i += 5 + length;
  }
  return out;
}

/** Status codes by number, named as Connect spells them. */
export const codes = [
  "ok",
  "canceled",
  "unknown",
  "invalid_argument",
  "deadline_exceeded",
  "not_found",
  "already_exists",
  "permission_denied",
  "resource_exhausted",
  "failed_precondition",
  "aborted",
  "out_of_range",
  "unimplemented",
  "internal",
  "unavailable",
  "data_loss",
  "unauthenticated",
] as const;

/** The outcome a conforming client reads from an answer: a code (Connect's spelling) and a message. */
export interface Answer {
  code: string;
  message: string;
}

/** Connect's HTTP-to-code table, for error answers without a Connect error body. */
function codeFromHttpStatus(status: number): string {
  return (
    {
      400: "internal",
      401: "unauthenticated",
      403: "permission_denied",
      404: "unimplemented",
      429: "unavailable",
      502: "unavailable",
      503: "unavailable",
      504: "unavailable",
    }[status] ?? "unknown"
  );
}

function connectError(body: Buffer, status: number): Answer {
  try {
    const e = JSON.parse(body.toString()) as { code?: string; message?: string };
    if (typeof e.code === "string") return { code: e.code, message: e.message ?? "" };
  } catch {}
  return { code: codeFromHttpStatus(status), message: "" };
}

/** Connect unary: 200 and the message, or a non-200 status with a JSON error. */
export function connectUnaryAnswer(x: Exchange): Answer {
  return x.status === 200 ? { code: "ok", message: "" } : connectError(x.body, x.status);
}

/** Connect streaming: status 200 and an EndStreamResponse (flag 2) last; anything else is a failed call. */
export function connectStreamAnswer(x: Exchange): Answer {
  if (x.status !== 200) return connectError(x.body, x.status);
  const end = envelopes(x.body).at(-1);
  if (!end || (end.flags & 0b10) === 0) return { code: "unknown", message: "no EndStreamResponse" };
  const { error } = JSON.parse(end.data.toString()) as { error?: { code: string; message?: string } };
  return error ? { code: error.code, message: error.message ?? "" } : { code: "ok", message: "" };
}

function grpcStatus(fields: Record<string, string>): Answer | undefined {
  const status = fields["grpc-status"];
  if (status === undefined) return undefined;
  return {
    code: codes[Number(status)] ?? "unknown",
    message: decodeURIComponent(fields["grpc-message"] ?? ""),
  };
}

/**
 * gRPC: the status comes in trailers, or in a Trailers-Only response, whose single HEADERS
 * frame must carry END_STREAM. A status anywhere else is no status (clients report it so).
 */
export function grpcAnswer(x: Exchange): Answer {
  if (x.status !== 200) return { code: "unknown", message: `HTTP ${x.status}` };
  return (
    grpcStatus(x.trailers) ??
    (x.headersEndStream ? grpcStatus(x.headers) : undefined) ?? {
      code: "unknown",
      message: x.headers["grpc-status"] ? "grpc-status in HEADERS without END_STREAM" : "no grpc-status",
    }
  );
}

/** gRPC-Web: the status is in the headers (Trailers-Only) or in a trailer frame (flag 0x80) last in the body. */
export function grpcWebAnswer(x: Exchange): Answer {
  if (x.status !== 200) return { code: "unknown", message: `HTTP ${x.status}` };
  const last = envelopes(x.body).at(-1);
  if (last && (last.flags & 0x80) !== 0) {
    const fields: Record<string, string> = {};
    for (const line of last.data.toString().split("\r\n")) {
      const colon = line.indexOf(":");
      if (colon > 0) fields[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    return grpcStatus(fields) ?? { code: "unknown", message: "trailer frame without grpc-status" };
  }
  return grpcStatus(x.headers) ?? { code: "unknown", message: "no grpc-status" };
}
