import type { Interceptor } from "@connectrpc/connect";

/** The operator's admin token every test server is started with (ADMIN_TOKEN). */
export const testAdminToken = "test-admin-token-0123456789abcdef0123456789abcdef";
/** The token-signing key of every test server (AUTH_SECRET): instances of a test share it. */
export const testAuthSecret = "test-auth-secret-0123456789abcdef0123456789abcdef";

/** Sends `Authorization: Bearer <token>` on every call, unless the call sets its own. */
export function bearer(token: string | undefined): Interceptor {
  return (next) => (req) => {
    if (token !== undefined && !req.header.has("authorization")) req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
}

/** The env a test server needs for auth, with limits off unless a test sets them. */
export const testAuthEnv: Record<string, string> = {
  ADMIN_TOKEN: testAdminToken,
  AUTH_SECRET: testAuthSecret,
  RATE_LIMIT_USER_PER_SECOND: "0",
  RATE_LIMIT_ADDRESS_PER_SECOND: "0",
  MAX_STREAMS_PER_USER: "0",
  MAX_STREAMS_PER_ADDRESS: "0",
};
