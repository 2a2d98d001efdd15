import { Code, ConnectError, type ContextValues, type Interceptor } from "@connectrpc/connect";
import { toConnectError } from "../db/errors.ts";
import type { Logger } from "../logger.ts";
import { callLogger } from "./request-log.ts";

/**
 * The edge of the server: any error that is not already a ConnectError becomes one with the
 * right code (database errors through toConnectError), and internal failures are logged with
 * their cause here, never sent to the client.
 */
export function errorInterceptor(logger: Logger): Interceptor {
  const fail = (method: string, err: unknown, values: ContextValues): never => {
    const ce = toConnectError(err);
    // The call's logger is made only when there is something to log.
    const log = () => callLogger({ values }, logger);
    if (ce.code === Code.Internal || ce.code === Code.Unknown) {
      log().error({ err: ce.cause ?? err, method }, "call failed");
    } else if (ce.code === Code.Unavailable) {
      log().warn({ err: ce.cause ?? err, method }, "call failed: dependency unavailable");
    }
    throw ce;
  };
  return (next) => async (req) => {
    const method = `${req.service.typeName}/${req.method.name}`;
    let res: Awaited<ReturnType<typeof next>>;
    try {
      res = await next(req);
    } catch (err) {
      return fail(method, err, req.contextValues);
    }
    if (!res.stream) return res;
    const source = res.message;
    return {
      ...res,
      message: (async function* () {
        try {
          yield* source;
        } catch (err) {
          if (err instanceof ConnectError && err.code !== Code.Internal) throw err;
          fail(method, err, req.contextValues);
        }
      })(),
    };
  };
}
