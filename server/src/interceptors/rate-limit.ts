import { create, type DescMethod } from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ContextValues, type Interceptor } from "@connectrpc/connect";
import { RetryInfoSchema } from "../../../gen/google/rpc/error_details_pb.js";
import { isAdmin, principalKey } from "../auth/principal.ts";
import type { RateLimiter } from "../rate-limiter.ts";
import { checkEachMessage } from "./each-message.ts";

export interface RateLimits {
  /** Per signed-in user (admins are exempt); undefined: off. */
  user: RateLimiter | undefined;
  /** Per client address, signed in or not (sign-in included); undefined: off. */
  address: RateLimiter | undefined;
  addressOf: (values: ContextValues) => string;
}

/**
 * Token-bucket limits on mutations: every call of a Switchboard method that has side effects
 * (reads are NO_SIDE_EFFECTS or server streams), and every message of a bidi stream. Over
 * the limit is RESOURCE_EXHAUSTED with a retry hint, as a google.rpc.RetryInfo detail and
 * a retry-after header (seconds), before the handler does any work.
 */
export function rateLimitInterceptor(limits: RateLimits): Interceptor {
  const counted = new Map<DescMethod, boolean>();
  const isMutation = (method: DescMethod) => {
    let yes = counted.get(method);
    if (yes === undefined) {
      yes =
        method.parent.typeName.startsWith("switchboard.") &&
        method.methodKind !== "server_streaming" &&
        method.idempotency !== MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS;
      counted.set(method, yes);
    }
    return yes;
  };

  // Not an async function: a call that is not limited goes on without a layer of its own.
  return (next) => (req) => {
    if (!isMutation(req.method) || (!limits.user && !limits.address)) return next(req);
    const principal = req.contextValues.get(principalKey);
    const userKey = principal && !isAdmin(principal) ? principal.userId : undefined;
    const address = limits.address ? limits.addressOf(req.contextValues) : undefined;
    // The user's own bucket first: a user over their limit must not also drain the budget
    // of everyone else behind the same address (a NAT, an office, a proxy).
    const spend = () => {
      const byUser = userKey === undefined ? 0 : (limits.user?.take(userKey) ?? 0);
      if (byUser > 0) throw overLimit("this user", byUser);
      const byAddress = address === undefined ? 0 : (limits.address?.take(address) ?? 0);
      if (byAddress > 0) throw overLimit("this address", byAddress);
    };
    if (req.method.methodKind !== "bidi_streaming") {
      try {
        spend();
      } catch (err) {
        return Promise.reject(err);
      }
      return next(req);
    }
    return next(checkEachMessage(req, spend));
  };
}

function overLimit(who: string, waitMs: number): ConnectError {
  const seconds = Math.floor(waitMs / 1000);
  const retry = create(RetryInfoSchema, {
    retryDelay: { seconds: BigInt(seconds), nanos: (waitMs % 1000) * 1_000_000 },
  });
  return new ConnectError(
    `rate limit exceeded for ${who}: retry in ${waitMs} ms`,
    Code.ResourceExhausted,
    { "retry-after": String(Math.max(1, Math.ceil(waitMs / 1000))) },
    [{ desc: RetryInfoSchema, value: retry }],
  );
}
