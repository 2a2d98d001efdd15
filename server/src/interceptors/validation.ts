import type { Interceptor } from "@connectrpc/connect";
import type { CheckMessage } from "../validation.ts";

/**
 * Validates single-message requests (unary and server streaming) before the handler runs.
 * Client and bidi streams are checked per item by their handlers, so that one bad item is
 * reported without ending the stream.
 */
export function validationInterceptor(checkMessage: CheckMessage): Interceptor {
  // Not an async function: a valid unary request goes on without a layer of its own.
  return (next) => (req) => {
    const kind = req.method.methodKind;
    if (kind === "unary" && !req.stream) {
      const invalid = checkMessage(req.method.input, req.message);
      if (invalid) return Promise.reject(invalid);
    } else if (kind === "server_streaming" && req.stream) {
      const input = req.message;
      const schema = req.method.input;
      return next({
        ...req,
        message: (async function* () {
          for await (const m of input) {
            const invalid = checkMessage(schema, m);
            if (invalid) throw invalid;
            yield m;
          }
        })(),
      });
    }
    return next(req);
  };
}
