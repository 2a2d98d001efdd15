import { create, type DescMessage, type DescMethodUnary, type MessageShape } from "@bufbuild/protobuf";
import {
  createContextKey,
  type HandlerContext,
  type Interceptor,
  type UnaryRequest,
  type UnaryResponse,
} from "@connectrpc/connect";

/** A unary method and the service implementation's function for it. */
export interface UnaryRoute {
  method: DescMethodUnary;
  impl: (request: never, context: HandlerContext) => unknown;
}

/** Runs one call through the interceptors to the implementation: the response message. */
export type UnaryChain = (
  context: HandlerContext,
  input: MessageShape<DescMessage>,
) => Promise<MessageShape<DescMessage>>;

/** The call's own context, for the innermost step of a chain composed once for all calls. */
const callContextKey = createContextKey<HandlerContext | undefined>(undefined);

/**
 * The interceptors around a unary implementation, composed once per method. connect's
 * invokeUnaryImplementation (what connect-node runs for every unary call) applies every
 * interceptor to a fresh innermost function on each call, because that function closes over
 * the call's context: each call then pays for every interceptor's closures before any of them
 * runs. Here the innermost function finds the call's context in the request's context values
 * instead, so the chain is built once; each call runs exactly what invokeUnaryImplementation
 * runs, in the same order, with the same request and response shapes.
 */
export function composeUnary(route: UnaryRoute, interceptors: readonly Interceptor[]): UnaryChain {
  const { method } = route;
  const output = method.output;
  // As invokeUnaryImplementation's innermost function: the implementation with the call's
  // context (as the interceptors left the request), its answer made a full message.
  const innermost = async (req: UnaryRequest): Promise<UnaryResponse> => {
    const context = req.contextValues.get(callContextKey);
    if (!context) throw new Error("a composed unary chain was called without its call's context");
    // The call's own context, unless an interceptor replaced part of the request (then a copy
    // with the request's parts, as invokeUnaryImplementation always makes).
    const same =
      req.service === context.service &&
      req.header === context.requestHeader &&
      req.signal === context.signal &&
      req.contextValues === context.values;
    const answer = await route.impl(
      req.message as never,
      same
        ? context
        : {
            ...context,
            service: req.service,
            requestHeader: req.header,
            signal: req.signal,
            values: req.contextValues,
          },
    );
    return {
      message: create(output, answer as MessageShape<DescMessage>),
      stream: false,
      method,
      service: method.parent,
      header: context.responseHeader,
      trailer: context.responseTrailer,
    };
  };
  let chain = innermost as (req: UnaryRequest) => Promise<UnaryResponse>;
  for (let i = interceptors.length - 1; i >= 0; i--) {
    chain = (interceptors[i] as Interceptor)(chain as never) as typeof chain;
  }
  const composed = chain;
  return async (context, input) => {
    context.values.set(callContextKey, context);
    const res = await composed({
      stream: false,
      message: input,
      method,
      requestMethod: context.requestMethod,
      url: context.url,
      signal: context.signal,
      header: context.requestHeader,
      service: method.parent,
      contextValues: context.values,
    });
    copyHeaders(res.header, context.responseHeader);
    copyHeaders(res.trailer, context.responseTrailer);
    return res.message;
  };
}

/** As invokeUnaryImplementation: headers an interceptor replaced are copied back to the call's. */
function copyHeaders(from: Headers, to: Headers): void {
  if (from === to) return;
  const names: string[] = [];
  to.forEach((_, key) => {
    names.push(key);
  });
  for (const key of names) to.delete(key);
  from.forEach((value, key) => {
    to.set(key, value);
  });
}
