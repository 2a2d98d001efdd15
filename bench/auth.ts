// What the servers a bench starts need since sign-in arrived (issue #8): an admin token and a
// signing key of the run's own, shared by every instance the bench starts, and the rate and
// stream limits off, since a bench drives far more than one user's or one address's share
// (set RATE_LIMIT_* or MAX_STREAMS_* in the environment to measure with them on).
import { randomBytes } from "node:crypto";
import type { Interceptor } from "@connectrpc/connect";

/** The bench's admin token: every call it makes is the operator's. */
export const benchAdminToken = `bench-admin-${randomBytes(24).toString("base64url")}`;

/** Limits off, unless the environment sets them: spread it before process.env. */
export const limitsOff: Record<string, string> = {
  RATE_LIMIT_USER_PER_SECOND: "0",
  RATE_LIMIT_ADDRESS_PER_SECOND: "0",
  MAX_STREAMS_PER_USER: "0",
  MAX_STREAMS_PER_ADDRESS: "0",
};

/** The admin token and signing key of every instance of this run: spread it after process.env. */
export const benchAuth: Record<string, string> = {
  ADMIN_TOKEN: benchAdminToken,
  AUTH_SECRET: randomBytes(32).toString("base64url"),
};

/** `Authorization: Bearer <admin token>` on every call of a connect client. */
export const asAdmin: Interceptor = (next) => (req) => {
  req.header.set("authorization", `Bearer ${benchAdminToken}`);
  return next(req);
};
