import type { DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";

type AnyRequest = Parameters<Parameters<Interceptor>[0]>[0];

/** Called once when a call ends: `err` undefined for success, else the error it ended with. */
export type CallEnd = (err: ConnectError | undefined) => void;

/**
 * Runs `start` as a call begins and the function it returns once, when the call ends: a
 * unary call when it answers, a stream at its last message or error, and any call when its
 * signal aborts first (the client went away, the deadline passed, shutdown), so a stream
 * parked on a client that stopped reading still ends here. The shared skeleton of the
 * request-log, metrics and tracing interceptors, which must stay outside the deadline
 * interceptor (http-handler.ts) for unary calls to end on abort.
 */
export function observeCalls(start: (req: AnyRequest) => CallEnd): Interceptor {
  return (next) => async (req) => {
    const observed = start(req);
    if (req.method.methodKind === "unary") {
      // A unary call ends when `next` settles: the deadline interceptor, inside every observer,
      // rejects it the moment its signal aborts. No abort listener is needed (two EventTarget
      // calls per observer per call, which showed in profiles of small calls).
      try {
        const res = await next(req);
        observed(undefined);
        return res;
      } catch (err) {
        observed(ConnectError.from(err));
        throw err;
      }
    }
    let ended = false;
    const end = (err: unknown) => {
      if (ended) return;
      ended = true;
      req.signal.removeEventListener("abort", onAbort);
      observed(err === undefined ? undefined : ConnectError.from(err));
    };
    const onAbort = () => {
      const reason: unknown = req.signal.reason;
      end(
        reason instanceof ConnectError ? reason : new ConnectError("the call was cancelled", Code.Canceled),
      );
    };
    req.signal.addEventListener("abort", onAbort);
    let res: Awaited<ReturnType<typeof next>>;
    try {
      res = await next(req);
    } catch (err) {
      end(err);
      throw err;
    }
    if (!res.stream) {
      end(undefined);
      return res;
    }
    const source = res.message;
    return {
      ...res,
      message: (async function* () {
        try {
          yield* source;
          end(undefined);
        } catch (err) {
          end(err);
          throw err;
        } finally {
          // The consumer stopped early (return()): the call ended without an error of its own.
          end(req.signal.aborted ? req.signal.reason : undefined);
        }
      })(),
    };
  };
}

export type Protocol = "grpc" | "grpc_web" | "connect";

/**
 * One value per method and protocol, made by `make` on first use and found after that by the
 * method's descriptor (the same object on every call) and the protocol, with no key string
 * built per call. What the observers keep per method: a logger child, metric series.
 */
export function perMethodAndProtocol<T>(
  make: (method: DescMethod, protocol: Protocol) => T,
): (method: DescMethod, protocol: Protocol) => T {
  const byMethod = new Map<DescMethod, Partial<Record<Protocol, T>>>();
  return (method, protocol) => {
    let byProtocol = byMethod.get(method);
    if (!byProtocol) {
      byProtocol = {};
      byMethod.set(method, byProtocol);
    }
    let value = byProtocol[protocol];
    if (value === undefined) {
      value = make(method, protocol);
      byProtocol[protocol] = value;
    }
    return value;
  };
}

/** The wire protocol of a call, from its content type: grpc, grpc_web or connect. */
export function protocolOf(header: Headers): Protocol {
  const type = header.get("content-type") ?? "";
  if (type.startsWith("application/grpc-web")) return "grpc_web";
  if (type.startsWith("application/grpc")) return "grpc";
  return "connect";
}

/** The Connect name of a call's outcome (ok, not_found, invalid_argument, …). */
export function codeName(err: ConnectError | undefined): string {
  if (!err) return "ok";
  let name = codeNames.get(err.code);
  if (name === undefined) {
    const camel = Code[err.code];
    name = camel
      ? camel.replace(/[A-Z]/g, (c, i: number) => (i ? "_" : "") + c.toLowerCase())
      : String(err.code);
    codeNames.set(err.code, name);
  }
  return name;
}

/** Code to name, filled as codes are seen (a flood of one error names it once). */
const codeNames = new Map<Code, string>();
