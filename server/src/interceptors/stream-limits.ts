import { Code, ConnectError, type ContextValues, type Interceptor } from "@connectrpc/connect";
import { isAdmin, principalKey } from "../auth/principal.ts";
import { observeCalls } from "./call-end.ts";

export interface StreamLimits {
  /** Open streams one signed-in user may hold across all connections (admins exempt); 0: no limit. */
  perUser: number;
  /** Open streams one client address may hold, signed in or not; 0: no limit. */
  perAddress: number;
  addressOf: (values: ContextValues) => string;
}

/**
 * Caps the streams one user and one address hold open on this instance, so a client cannot
 * park thousands of idle subscriptions (HTTP/2's MAX_CONCURRENT_STREAMS caps one connection,
 * not many). A stream over the cap is refused with RESOURCE_EXHAUSTED before it starts.
 */
export function streamLimitInterceptor(limits: StreamLimits): Interceptor {
  const byUser = new Map<string, number>();
  const byAddress = new Map<string, number>();
  const enter = (counts: Map<string, number>, key: string, max: number, who: string) => {
    const n = counts.get(key) ?? 0;
    if (n >= max) {
      throw new ConnectError(`too many open streams for ${who} (at most ${max})`, Code.ResourceExhausted);
    }
    counts.set(key, n + 1);
  };
  const leave = (counts: Map<string, number>, key: string) => {
    const n = (counts.get(key) ?? 1) - 1;
    if (n <= 0) counts.delete(key);
    else counts.set(key, n);
  };
  const none = () => {};
  return observeCalls((req) => {
    if (req.method.methodKind === "unary") return none;
    const principal = req.contextValues.get(principalKey);
    const user = limits.perUser > 0 && principal && !isAdmin(principal) ? principal.userId : undefined;
    const address = limits.perAddress > 0 ? limits.addressOf(req.contextValues) : undefined;
    if (address !== undefined) enter(byAddress, address, limits.perAddress, "this address");
    if (user !== undefined) {
      try {
        enter(byUser, user, limits.perUser, "this user");
      } catch (err) {
        if (address !== undefined) leave(byAddress, address);
        throw err;
      }
    }
    return () => {
      if (address !== undefined) leave(byAddress, address);
      if (user !== undefined) leave(byUser, user);
    };
  });
}
