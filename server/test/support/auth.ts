import { randomUUID } from "node:crypto";
import { createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { AuthService } from "../../../gen/switchboard/v1/auth_pb.js";
import { Role, type User, UserService } from "../../../gen/switchboard/v1/user_pb.js";

/** The operator's admin token every test server is started with (ADMIN_TOKEN). */
export const testAdminToken = "test-admin-token-0123456789abcdef0123456789abcdef";
/** The token-signing key of every test server (AUTH_SECRET): instances of a test share it. */
export const testAuthSecret = "test-auth-secret-0123456789abcdef0123456789abcdef";

/** Sends `Authorization: Bearer <token>` on every call, unless the call sets its own. */
export function bearer(token: string | null): Interceptor {
  return (next) => (req) => {
    if (token !== null && !req.header.has("authorization"))
      req.header.set("authorization", `Bearer ${token}`);
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

export interface SignedInUser {
  user: User;
  password: string;
  /** A session token from SignIn. */
  token: string;
}

/**
 * Creates a user with a password (as the admin) and signs them in over Connect JSON: what a
 * test needs to call as an ordinary user. `role` ROLE_ADMIN makes an admin user.
 */
export async function createSignedInUser(
  baseUrl: string,
  opts: { name?: string; role?: Role } = {},
): Promise<SignedInUser> {
  const transport = (token: string | null) =>
    createConnectTransport({ baseUrl, httpVersion: "1.1", interceptors: [bearer(token)] });
  const password = `pw-${randomUUID()}`;
  const { user } = await createClient(UserService, transport(testAdminToken)).createUser({
    name: opts.name ?? "Test User",
    email: `user-${randomUUID()}@example.com`,
    age: 30,
    password,
    role: opts.role ?? Role.USER,
  });
  if (!user) throw new Error("CreateUser returned no user");
  const { token } = await createClient(AuthService, transport(null)).signIn({ email: user.email, password });
  return { user, password, token };
}
