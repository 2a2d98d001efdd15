import { type Timestamp, timestampDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createContext, type ReactNode, useContext } from "react";
import { AuthService } from "../../gen/switchboard/v1/auth_pb.js";
import { Role, type User } from "../../gen/switchboard/v1/user_pb.js";
import { createTransport, type Protocol } from "./protocol.ts";

/**
 * Who this tab is signed in as. The token lives only here, in React state: never in
 * localStorage, sessionStorage or a cookie, so a script injected later, another tab or the
 * next person at this browser cannot read it back. The cost: a reload signs out.
 */
export interface Session {
  /** The bearer token every RPC carries. */
  readonly token: string;
  readonly role: Role;
  /** The signed-in user; undefined for the operator's admin token, which names no user. */
  readonly user: User | undefined;
  /** When the server stops accepting the token; undefined for the admin token. */
  readonly expiresAt: Date | undefined;
}

export function isAdmin(session: Session): boolean {
  return session.role === Role.ADMIN;
}

export function roleLabel(role: Role): string {
  return role === Role.ADMIN ? "Admin" : "User";
}

/**
 * Sends `Authorization: Bearer <token>` on every call, and reports an UNAUTHENTICATED answer
 * (the token expired, its user was deleted, the server's key changed) to `onUnauthenticated`:
 * for a unary call when it fails, for a stream whenever its messages end with one.
 */
export function bearer(token: string, onUnauthenticated?: (error: ConnectError) => void): Interceptor {
  const check = (err: unknown) => {
    if (onUnauthenticated && err instanceof ConnectError && err.code === Code.Unauthenticated) {
      onUnauthenticated(err);
    }
  };
  return (next) => async (req) => {
    req.header.set("Authorization", `Bearer ${token}`);
    try {
      const res = await next(req);
      if (!res.stream) return res;
      return { ...res, message: watch(res.message, check) };
    } catch (err) {
      check(err);
      throw err;
    }
  };
}

async function* watch<T>(messages: AsyncIterable<T>, check: (err: unknown) => void): AsyncGenerator<T> {
  try {
    yield* messages;
  } catch (err) {
    check(err);
    throw err;
  }
}

/** AuthService.SignIn over the tab's protocol: a session for the user with this email and password. */
export async function signInWithPassword(
  protocol: Protocol,
  email: string,
  password: string,
): Promise<Session> {
  const auth = createClient(AuthService, createTransport(protocol));
  const res = await auth.signIn({ email, password });
  if (!res.user) throw new ConnectError("the server's answer names no user", Code.Internal);
  return {
    token: res.token,
    role: res.user.role,
    user: res.user,
    expiresAt: res.expireTime ? timestampDate(res.expireTime) : undefined,
  };
}

/**
 * A session for a token the person already has (the operator's ADMIN_TOKEN, or a session
 * token from elsewhere): AuthService.GetSession both checks it and says whose it is.
 */
export async function signInWithToken(protocol: Protocol, token: string): Promise<Session> {
  const auth = createClient(AuthService, createTransport(protocol, [bearer(token)]));
  const res = await auth.getSession({});
  return {
    token,
    role: res.role,
    user: res.user,
    expiresAt: res.expireTime ? timestampDate(res.expireTime) : undefined,
  };
}

export interface SessionState {
  session: Session;
  /** Forgets the token and everything fetched with it; the sign-in screen shows `reason`. */
  signOut(reason?: string): void;
  /** The signed-in user changed their own details: the header shows the new name. */
  updateUser(user: User): void;
  /**
   * Runs `setPassword` (the signed-in user setting their own password): every token issued
   * before, this tab's included, ends, and this session goes on with the one it answers.
   * Meanwhile the server ends this tab's open streams UNAUTHENTICATED: that does not sign out.
   */
  renewing<T extends { token: string; expireTime?: Timestamp }>(setPassword: () => Promise<T>): Promise<T>;
}

const SessionContext = createContext<SessionState | null>(null);

export function SessionProvider({ value, children }: { value: SessionState; children: ReactNode }) {
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

/** The session of the signed-in part of the app (the sign-in screen has none). */
export function useSession(): SessionState {
  const state = useContext(SessionContext);
  if (!state) throw new Error("useSession outside SessionProvider");
  return state;
}
