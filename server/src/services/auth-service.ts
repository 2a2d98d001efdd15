import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { AuthService } from "../../../gen/switchboard/v1/auth_pb.js";
import { unauthenticated } from "../auth/authenticate.ts";
import { hashPassword, verifyDecoy, verifyPassword } from "../auth/passwords.ts";
import { actingUser, isAdmin, principalOf } from "../auth/principal.ts";
import type { Tokens } from "../auth/tokens.ts";
import type { Db } from "../db/database.ts";
import { withDeadline } from "../db/deadline.ts";
import * as store from "../stores/user-store.ts";
import type { UserCache } from "../user-cache.ts";
import { roleToMessage, userToMessage } from "./user-messages.ts";

export interface AuthServiceDeps {
  db: Db;
  tokens: Tokens;
  /** Told of a password change, so cached rows move to the new version. */
  userCache: UserCache;
}

/** One message for a wrong email and a wrong password, so sign-in does not reveal accounts. */
const wrongCredentials = "wrong email or password";

/** AuthService: sign-in with a password, the caller's session, and password changes. */
export function createAuthService({
  db,
  tokens,
  userCache,
}: AuthServiceDeps): ServiceImpl<typeof AuthService> {
  return {
    async signIn(req, ctx) {
      const found = await withDeadline(db, ctx, (tx) => store.getCredentials(tx, req.email));
      if (!found?.passwordHash) {
        await verifyDecoy(req.password); // the same time as a real check
        throw unauthenticated(wrongCredentials);
      }
      if (!(await verifyPassword(req.password, found.passwordHash))) throw unauthenticated(wrongCredentials);
      const { token, expiresAt } = await tokens.issue(
        found.user.id,
        found.user.role,
        found.user.sessionEpoch,
      );
      return { token, expireTime: timestampFromDate(expiresAt), user: userToMessage(found.user) };
    },

    async getSession(_req, ctx) {
      const principal = principalOf(ctx);
      const row = principal.userId
        ? await withDeadline(db, ctx, (tx) => store.getUser(tx, principal.userId ?? ""))
        : undefined;
      return {
        user: row ? userToMessage(row) : undefined,
        role: roleToMessage(principal.role),
        expireTime: principal.expiresAt ? timestampFromDate(principal.expiresAt) : undefined,
      };
    },

    async setPassword(req, ctx) {
      const principal = principalOf(ctx);
      const userId = actingUser(ctx, req.userId);
      if (!isAdmin(principal)) {
        // Someone holding a user's token must also know the password to change it.
        const current = await withDeadline(db, ctx, (tx) => store.getPasswordHash(tx, userId));
        if (current && !(await verifyPassword(req.currentPassword, current))) {
          throw new ConnectError("current_password is wrong", Code.PermissionDenied);
        }
      }
      const hash = await hashPassword(req.newPassword);
      const row = await withDeadline(db, ctx, (tx) => store.setPasswordHash(tx, userId, hash));
      if (!row) throw new ConnectError(`user ${userId} not found`, Code.NotFound);
      // The change raised the user's session epoch: every token issued before it, the
      // caller's own included, is refused from now on (authenticate.ts).
      await userCache.updated(row);
      if (principal.userId !== row.id) return {};
      // Callers who set their own password keep this session, under a new token.
      const { token, expiresAt } = await tokens.issue(row.id, row.role, row.sessionEpoch);
      return { token, expireTime: timestampFromDate(expiresAt) };
    },
  };
}
