import type { Interceptor } from "@connectrpc/connect";

type AnyRequest = Parameters<Parameters<Interceptor>[0]>[0];

/**
 * The same request with `check` run on its message, or on each message of a request stream as
 * the handler reads it; a check that throws ends the call with its error.
 */
export function checkEachMessage(req: AnyRequest, check: (message: object) => void): AnyRequest {
  if (!req.stream) {
    check(req.message);
    return req;
  }
  const input = req.message;
  return {
    ...req,
    message: (async function* () {
      for await (const m of input) {
        check(m);
        yield m;
      }
    })(),
  };
}
