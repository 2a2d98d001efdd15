import { timingSafeEqual } from "node:crypto";
import { errors, jwtVerify, SignJWT } from "jose";
import type { Role } from "../db/schema.ts";

const issuer = "switchboard";
/** User ids are UUIDs; a subject that is not one names no user (and must not reach a query). */
const uuid = /^[\da-f]{8}-[\da-f]{4}-[\da-f]{4}-[\da-f]{4}-[\da-f]{12}$/i;
/** Verified tokens remembered until they expire. */
const verifiedCacheSize = 10_000;
const audience = "switchboard";

export interface IssuedToken {
  token: string;
  expiresAt: Date;
}

export interface TokenClaims {
  userId: string;
  role: Role;
  expiresAt: Date;
  /** The user's session epoch when the token was issued (0 for tokens from before epochs). */
  sessionEpoch: number;
}

export interface Tokens {
  /** A token for `userId` under their current `sessionEpoch` (users.session_epoch). */
  issue(userId: string, role: Role, sessionEpoch: number): Promise<IssuedToken>;
  /** The claims of a valid token; throws TokenError for a bad, forged or expired one. */
  verify(token: string): Promise<TokenClaims>;
  /** Whether a bearer value is the operator's admin token (constant time). */
  isAdminToken(token: string): boolean;
}

export class TokenError extends Error {
  override name = "TokenError";
}

/** Signed, expiring session tokens: JWT HS256, pinned algorithm, issuer and audience. */
export function createTokens(opts: {
  signingKey: Uint8Array;
  adminToken: string;
  ttlSeconds: number;
}): Tokens {
  const admin = Buffer.from(opts.adminToken);
  const verified = new Map<string, TokenClaims>();
  const verifyUncached = async (token: string): Promise<TokenClaims> => {
    try {
      const { payload } = await jwtVerify(token, opts.signingKey, {
        algorithms: ["HS256"],
        issuer,
        audience,
        requiredClaims: ["sub", "exp", "iat"],
        clockTolerance: 5,
      });
      const role = payload.role;
      if (role !== "user" && role !== "admin") throw new TokenError("token has no valid role");
      if (!payload.sub || !uuid.test(payload.sub) || payload.exp === undefined) {
        throw new TokenError("token has no valid subject");
      }
      const epoch = payload.sep === undefined ? 0 : payload.sep;
      if (typeof epoch !== "number" || !Number.isSafeInteger(epoch) || epoch < 0) {
        throw new TokenError("token has no valid session epoch");
      }
      return { userId: payload.sub, role, expiresAt: new Date(payload.exp * 1000), sessionEpoch: epoch };
    } catch (err) {
      if (err instanceof TokenError) throw err;
      if (err instanceof errors.JWTExpired) throw new TokenError("token expired");
      if (err instanceof errors.JOSEError) throw new TokenError("token is not valid");
      throw err;
    }
  };
  return {
    async issue(userId, role, sessionEpoch) {
      const expiresAt = new Date(Math.floor(Date.now() / 1000 + opts.ttlSeconds) * 1000);
      const token = await new SignJWT({ role, sep: sessionEpoch })
        .setProtectedHeader({ alg: "HS256", typ: "JWT" })
        .setSubject(userId)
        .setIssuer(issuer)
        .setAudience(audience)
        .setIssuedAt()
        .setExpirationTime(expiresAt)
        .sign(opts.signingKey);
      return { token, expiresAt };
    },
    async verify(token) {
      // A token is verified once; its claims are kept until it expires (a bounded map, oldest
      // dropped first). HMAC through WebCrypto costs more than the rest of a small call.
      const known = verified.get(token);
      if (known && known.expiresAt.getTime() > Date.now()) return known;
      const claims = await verifyUncached(token);
      if (verified.size >= verifiedCacheSize) verified.delete(verified.keys().next().value ?? "");
      verified.set(token, claims);
      return claims;
    },
    isAdminToken(token) {
      // Constant time for a token of the admin token's length; its length is no secret.
      if (token.length !== admin.length) return false;
      const given = Buffer.from(token);
      return given.length === admin.length && timingSafeEqual(given, admin);
    },
  };
}
