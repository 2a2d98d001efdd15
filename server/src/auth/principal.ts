import {
  Code,
  ConnectError,
  type ContextValues,
  createContextKey,
  type HandlerContext,
} from "@connectrpc/connect";
import type { Role } from "../db/schema.ts";

/** Who a call acts as, as established by the auth interceptor from the bearer token. */
export interface Principal {
  /** The signed-in user; undefined for the operator's admin token, which names no user. */
  readonly userId: string | undefined;
  readonly role: Role;
  /** When the token stops being accepted; undefined for the admin token. */
  readonly expiresAt: Date | undefined;
}

/** Unset until the auth interceptor runs; public methods (sign-in) run without one. */
export const principalKey = createContextKey<Principal | undefined>(undefined, {
  description: "the authenticated caller",
});

export function principalOf(ctx: HandlerContext | { values: ContextValues }): Principal {
  const principal = ctx.values.get(principalKey);
  // Only reachable if a route that needs a caller were registered as public: a server bug.
  if (!principal) throw new ConnectError("no authenticated caller", Code.Internal);
  return principal;
}

export function isAdmin(principal: Principal): boolean {
  return principal.role === "admin";
}

/**
 * The user a call acts as: the one the request names (the auth interceptor has already
 * refused a user token naming someone else), else the token's own user. The operator's admin
 * token names no user, so it must name one.
 */
export function actingUser(ctx: HandlerContext, requested: string | undefined): string {
  if (requested) return requested;
  const { userId } = principalOf(ctx);
  if (userId) return userId;
  throw new ConnectError(
    "user_id is required with the admin token, which names no user",
    Code.InvalidArgument,
  );
}

/**
 * The owner whose rows a call may see: undefined (everyone's) for an admin, else the caller.
 * Stores add it to their WHERE clause, so another user's row reads as absent (NOT_FOUND).
 */
export function visibleOwner(ctx: HandlerContext): string | undefined {
  const principal = principalOf(ctx);
  return isAdmin(principal) ? undefined : principal.userId;
}

/** A filter on user_id for a list or a stream: what was asked, or the caller's own for a user. */
export function ownerFilter(ctx: HandlerContext, requested: string | undefined): string | undefined {
  return requested ?? visibleOwner(ctx);
}
