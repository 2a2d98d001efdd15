import { Code, ConnectError } from "@connectrpc/connect";
import type { UserRow } from "../db/schema.ts";
import type { Principal } from "./principal.ts";
import { TokenError, type Tokens } from "./tokens.ts";

export interface AuthenticatorDeps {
  tokens: Tokens;
  /** The user a token names, as it is now (through the user cache); undefined once deleted. */
  findUser: (id: string) => Promise<UserRow | undefined>;
}

export type Authenticate = (authorization: string | null) => Promise<Principal>;

/**
 * Turns an Authorization header into a Principal, or UNAUTHENTICATED. A session token is
 * checked against its user as stored now, so deleting a user, changing their role or their
 * password (which raises their session epoch) takes effect at once on this instance and
 * within the bus delay on the others, not at expiry.
 */
export function createAuthenticator({ tokens, findUser }: AuthenticatorDeps): Authenticate {
  return async (authorization) => {
    const match = /^Bearer ([\x21-\x7e]{1,4096})$/i.exec(authorization?.trim() ?? "");
    if (!match?.[1]) {
      throw unauthenticated(
        authorization ? "malformed Authorization header: want Bearer <token>" : "missing bearer token",
      );
    }
    const token = match[1];
    if (tokens.isAdminToken(token)) return { userId: undefined, role: "admin", expiresAt: undefined };
    let claims: Awaited<ReturnType<Tokens["verify"]>>;
    try {
      claims = await tokens.verify(token);
    } catch (err) {
      if (err instanceof TokenError) throw unauthenticated(err.message);
      throw err;
    }
    const user = await findUser(claims.userId);
    if (!user) throw unauthenticated("the token's user no longer exists");
    if (user.sessionEpoch !== claims.sessionEpoch) {
      throw unauthenticated("the session has ended: the user's password was changed");
    }
    return { userId: user.id, role: user.role, expiresAt: claims.expiresAt };
  };
}

export function unauthenticated(message: string): ConnectError {
  return new ConnectError(message, Code.Unauthenticated, {
    "www-authenticate": 'Bearer realm="switchboard"',
  });
}
