// The AuthService and access cases of the matrix, written once, as order-cases.ts does for
// OrderService: buf curl, grpc-js and curl run them through RpcClients (rpc-client.ts); Python
// grpcio runs the same steps in python/auth_cases.py and prints the same outcomes. Every
// client's outcomes are judged by the assertions here.
//
// A case calls as the operator's admin token (`client`), as no one, or as a user signed in
// through the case itself (`as(token)`): the same kind of client with another Authorization
// header, or none.
import assert from "node:assert/strict";
import type { matrixFor } from "./matrix.ts";
import { type Failure, type Order, procedures, unknownId } from "./order-cases.ts";
import { camelKeys, type Json, type RpcClient, rpcFailure } from "./rpc-client.ts";

const authService = "switchboard.v1.AuthService";
const userService = "switchboard.v1.UserService";

/** The AuthService procedures. */
export const authProcedures = {
  SignIn: `${authService}/SignIn`,
  GetSession: `${authService}/GetSession`,
  SetPassword: `${authService}/SetPassword`,
} as const;

/** The cases of the auth table and their columns, in this order. */
export const authColumns = {
  SignIn: "SignIn",
  GetSession: "GetSession",
  SetPassword: "SetPassword",
  NoToken: "no token → UNAUTHENTICATED",
  OtherOrder: "another user's order → NOT_FOUND",
} as const;
export type AuthCase = keyof typeof authColumns;
export const authCases = Object.keys(authColumns) as AuthCase[];

/** What the signed-in sessions last (TOKEN_TTL_SECONDS's default: the test servers keep it). */
const tokenTtlSeconds = 3600;
/** The message of a refused sign-in, the same for a wrong email and a wrong password. */
const wrongCredentials = "wrong email or password";

/** A User as proto3 JSON names it; timestamps are only compared within one client. */
export interface User {
  id: string;
  name: string;
  email: string;
  version: string;
}
interface SignedIn {
  token: string;
  expireTime: unknown;
  user: User;
}
interface Session {
  user?: User | null;
  role: string;
  expireTime?: unknown;
}

/** What each case reports; python/auth_cases.py prints the same keys in snake_case. */
export interface AuthOutcomes {
  SignIn: {
    created: User;
    signedIn: SignedIn;
    /** GetUser of the user, called with their new session token. */
    me: User;
    wrongPassword: Failure;
    unknownEmail: Failure;
  };
  GetSession: {
    userId: string;
    signedIn: SignedIn;
    /** GetSession with the user's session token. */
    mine: Session;
    /** GetSession with the admin token. */
    admin: Session;
  };
  SetPassword: {
    userId: string;
    /** The user changes their own password (no user_id, with current_password): a new token. */
    changed: { token: string; expireTime: unknown };
    /** GetSession with the token that made the change: that session ended with the others. */
    oldSession: Failure;
    /** GetSession with the token the change answered. */
    newSession: Session;
    oldPassword: Failure;
    withNew: SignedIn;
    /** SetPassword again, on the new token, with a wrong current_password. */
    wrongCurrent: Failure;
    /** The admin sets it for the user (user_id, no current_password): no token. */
    byAdmin: { token?: string; expireTime?: unknown };
    /** GetSession with the user's token from before the admin's change. */
    afterAdmin: Failure;
    withAdminSet: SignedIn;
  };
  NoToken: {
    /** GetUser with no Authorization header. */
    missing: Failure;
    /** GetUser with a token the server never issued. */
    forged: Failure;
    /** grpc.health.v1.Health/Check with no Authorization header. */
    health: { status: string };
  };
  OtherOrder: {
    userId: string;
    /** Another user's order, placed by the admin. */
    theirs: Order;
    /** The signed-in user's own order, placed with no user_id (the caller). */
    own: Order;
    ownGot: Order;
    othersGet: Failure;
    othersUpdate: Failure;
    /** The admin reads the other user's order afterwards. */
    adminGot: Order;
  };
}

/** The client under test calling as the admin token, and the same client calling as another token or none. */
export interface AuthCaseClients {
  client: RpcClient;
  as(token: string | null): RpcClient;
}

/** A user with a password, created by the admin. */
async function newUser(c: RpcClient, email: string, password: string): Promise<User> {
  const { user } = await c.unary(`${userService}/CreateUser`, { name: "Signer", email, age: 30, password });
  return user as User;
}

async function signIn(c: AuthCaseClients, email: string, password: string): Promise<SignedIn> {
  return (await c.as(null).unary(authProcedures.SignIn, { email, password })) as unknown as SignedIn;
}

async function getSession(c: RpcClient): Promise<Session> {
  return (await c.unary(authProcedures.GetSession, {})) as unknown as Session;
}

async function createOrder(c: RpcClient, request: Json): Promise<Order> {
  const { order } = await c.unary(procedures.CreateOrder, { product_id: "sku-42", quantity: 1, ...request });
  return order as Order;
}

async function getOrder(c: RpcClient, id: string): Promise<Order> {
  return (await c.unary(procedures.GetOrder, { id })).order as Order;
}

/** Each case, run through the clients; `tag` keeps this row's emails apart from other rows'. */
const run: { [C in AuthCase]: (c: AuthCaseClients, tag: string) => Promise<AuthOutcomes[C]> } = {
  async SignIn(c, tag) {
    const email = `sign-in@${tag}.example`;
    const created = await newUser(c.client, email, "first-password");
    const signedIn = await signIn(c, email, "first-password");
    const me = (await c.as(signedIn.token).unary(`${userService}/GetUser`, { id: created.id })).user as User;
    const wrongPassword = await rpcFailure(signIn(c, email, "wrong-password"));
    const unknownEmail = await rpcFailure(signIn(c, `nobody@${tag}.example`, "first-password"));
    return { created, signedIn, me, wrongPassword, unknownEmail };
  },

  async GetSession(c, tag) {
    const email = `session@${tag}.example`;
    const { id: userId } = await newUser(c.client, email, "session-password");
    const signedIn = await signIn(c, email, "session-password");
    const mine = await getSession(c.as(signedIn.token));
    const admin = await getSession(c.client);
    return { userId, signedIn, mine, admin };
  },

  async SetPassword(c, tag) {
    const email = `set-password@${tag}.example`;
    const { id: userId } = await newUser(c.client, email, "old-password");
    const { token } = await signIn(c, email, "old-password");
    const changed = (await c.as(token).unary(authProcedures.SetPassword, {
      current_password: "old-password",
      new_password: "new-password",
    })) as unknown as { token: string; expireTime: unknown };
    const oldSession = await rpcFailure(getSession(c.as(token)));
    const renewed = c.as(changed.token);
    const newSession = await getSession(renewed);
    const oldPassword = await rpcFailure(signIn(c, email, "old-password"));
    const withNew = await signIn(c, email, "new-password");
    const wrongCurrent = await rpcFailure(
      renewed.unary(authProcedures.SetPassword, {
        current_password: "old-password",
        new_password: "third-password",
      }),
    );
    const byAdmin = await c.client.unary(authProcedures.SetPassword, {
      user_id: userId,
      new_password: "admin-set-password",
    });
    const afterAdmin = await rpcFailure(getSession(c.as(withNew.token)));
    const withAdminSet = await signIn(c, email, "admin-set-password");
    return {
      userId,
      changed,
      oldSession,
      newSession,
      oldPassword,
      withNew,
      wrongCurrent,
      byAdmin,
      afterAdmin,
      withAdminSet,
    };
  },

  async NoToken(c) {
    const missing = await rpcFailure(c.as(null).unary(`${userService}/GetUser`, { id: unknownId }));
    const forged = await rpcFailure(
      c.as("not-a-token-this-server-issued").unary(`${userService}/GetUser`, { id: unknownId }),
    );
    const health = (await c.as(null).unary("grpc.health.v1.Health/Check", { service: "" })) as {
      status: string;
    };
    return { missing, forged, health };
  },

  async OtherOrder(c, tag) {
    const email = `owner@${tag}.example`;
    const { id: userId } = await newUser(c.client, email, "owner-password");
    const other = await newUser(c.client, `other-owner@${tag}.example`, "other-password");
    const theirs = await createOrder(c.client, { user_id: other.id, idempotency_key: "theirs" });
    const user = c.as((await signIn(c, email, "owner-password")).token);
    const own = await createOrder(user, { idempotency_key: "own" });
    const ownGot = await getOrder(user, own.id);
    const othersGet = await rpcFailure(getOrder(user, theirs.id));
    const othersUpdate = await rpcFailure(
      user.unary(procedures.UpdateOrderStatus, { id: theirs.id, status: "ORDER_STATUS_CANCELLED" }),
    );
    const adminGot = await getOrder(c.client, theirs.id);
    return { userId, theirs, own, ownGot, othersGet, othersUpdate, adminGot };
  },
};

/** Seconds since the epoch of a Timestamp, as protojson (a string) or grpc-js ({ seconds }) has it. */
function epochSeconds(ts: unknown): number {
  if (typeof ts === "string") return Date.parse(ts) / 1000;
  const seconds = (ts as { seconds?: unknown } | null)?.seconds;
  assert.ok(seconds !== undefined, `a timestamp: ${JSON.stringify(ts)}`);
  return Number(seconds);
}

/** A session from SignIn: a JWT (HS256) for this user that expires TOKEN_TTL_SECONDS from now. */
function assertSignedIn(s: SignedIn, userId: string): void {
  assertToken(s, userId);
  assert.equal(s.user.id, userId);
}

/** A session token for `userId` and its expiry, as SignIn and SetPassword answer them. */
function assertToken(s: { token: string; expireTime: unknown }, userId: string): void {
  const parts = s.token.split(".");
  assert.equal(parts.length, 3, `a JWT: ${s.token}`);
  const [header, payload] = parts.slice(0, 2).map((p) => JSON.parse(Buffer.from(p, "base64url").toString()));
  assert.equal(header.alg, "HS256");
  assert.equal(payload.sub, userId, "the token names the user");
  const ttl = epochSeconds(s.expireTime) - Date.now() / 1000;
  assert.ok(ttl > tokenTtlSeconds - 600 && ttl <= tokenTtlSeconds + 60, `expires in ${ttl} s`);
}

function assertFailure(f: Failure, code: string, message?: RegExp | string): void {
  assert.equal(f.code, code, f.message);
  if (typeof message === "string") assert.equal(f.message, message);
  else if (message) assert.match(f.message, message);
}

/** The assertions on each case's outcome, whichever client produced it. */
const check: { [C in AuthCase]: (o: AuthOutcomes[C]) => void } = {
  SignIn(o) {
    assertSignedIn(o.signedIn, o.created.id);
    assert.deepEqual(o.signedIn.user, o.created, "SignIn answers the user");
    assert.equal((o.signedIn.user as unknown as Json).password, undefined, "never the password");
    assert.deepEqual(o.me, o.created, "the session token works");
    // The same answer for a wrong password and an unknown email: sign-in reveals no accounts.
    assertFailure(o.wrongPassword, "unauthenticated", wrongCredentials);
    assertFailure(o.unknownEmail, "unauthenticated", wrongCredentials);
  },

  GetSession(o) {
    assertSignedIn(o.signedIn, o.userId);
    assert.equal(o.mine.user?.id, o.userId);
    assert.equal(o.mine.role, "ROLE_USER");
    assert.equal(epochSeconds(o.mine.expireTime), epochSeconds(o.signedIn.expireTime), "the token's expiry");
    // The operator's admin token names no user and does not expire.
    assert.equal(o.admin.role, "ROLE_ADMIN");
    assert.equal(o.admin.user ?? undefined, undefined);
    assert.equal(o.admin.expireTime ?? undefined, undefined);
  },

  SetPassword(o) {
    // The change answers a new token for the session that made it, under the next epoch.
    assertToken(o.changed, o.userId);
    assertFailure(o.oldSession, "unauthenticated", /password was changed/);
    assert.equal(o.newSession.user?.id, o.userId);
    assertFailure(o.oldPassword, "unauthenticated", wrongCredentials);
    assertSignedIn(o.withNew, o.userId);
    assertFailure(o.wrongCurrent, "permission_denied", /current_password/);
    // An admin setting it gets no token, and the user's sessions end.
    // (proto3 JSON leaves the empty fields out; grpc-js's proto-loader fills in defaults.)
    assert.ok(!o.byAdmin.token && o.byAdmin.expireTime == null, JSON.stringify(o.byAdmin));
    assertFailure(o.afterAdmin, "unauthenticated", /password was changed/);
    assertSignedIn(o.withAdminSet, o.userId);
  },

  NoToken(o) {
    assertFailure(o.missing, "unauthenticated", /bearer token/);
    assertFailure(o.forged, "unauthenticated");
    assert.equal(o.health.status, "SERVING", "health answers without a token");
  },

  OtherOrder(o) {
    assert.equal(o.own.userId, o.userId, "no user_id: the order is the caller's");
    assert.deepEqual(o.ownGot, o.own);
    assert.notEqual(o.theirs.userId, o.userId);
    // Another user's order does not exist for this user: not even PERMISSION_DENIED.
    assertFailure(o.othersGet, "not_found", `order ${o.theirs.id} not found`);
    assertFailure(o.othersUpdate, "not_found", `order ${o.theirs.id} not found`);
    assert.deepEqual(o.adminGot, o.theirs, "the refused update changed nothing");
  },
};

/** Checks an outcome printed by another program (snake_case keys are fine). */
export function checkAuthOutcome(name: AuthCase, outcome: unknown): void {
  check[name](camelKeys(outcome) as never);
}

/** The cells of one client row of the auth table: each runs its case and checks the outcome. */
export function authCells(
  cell: ReturnType<typeof matrixFor>["cell"],
  row: string,
  tag: string,
  setup: () => AuthCaseClients,
): void {
  for (const name of authCases) {
    cell({ table: "auth", row, column: authColumns[name] }, async () => {
      check[name]((await run[name](setup(), tag)) as never);
    });
  }
}
