// Authentication: every way of presenting a bad credential is UNAUTHENTICATED over Connect and
// gRPC; the public standard services need none; sign-in does not reveal which emails exist;
// passwords are stored as salted scrypt hashes and never leave the server.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { Code } from "@connectrpc/connect";
import { createWritableIterable } from "@connectrpc/connect/protocol";
import { sql } from "drizzle-orm";
import { Health, HealthCheckResponse_ServingStatus } from "../../../gen/grpc/health/v1/health_pb.js";
import { ServerReflection } from "../../../gen/grpc/reflection/v1/reflection_pb.js";
import { AuthService } from "../../../gen/switchboard/v1/auth_pb.js";
import { ChatService } from "../../../gen/switchboard/v1/chat_pb.js";
import { Role, UserSchema, UserService } from "../../../gen/switchboard/v1/user_pb.js";
import { createSignedInUser, type SignedInUser, testAdminToken } from "../support/auth.ts";
import { clientFor, collect, type ProtocolName, streamOf } from "../support/clients.ts";
import { startTestServer, type TestServer } from "../support/test-server.ts";
import {
  claimsOf,
  clientAs,
  expectCode,
  mintToken,
  queryRows,
  tamperedToken,
  unsignedToken,
} from "./support.ts";

const connectAndGrpc: ProtocolName[] = ["connect-json", "grpc"];

let server: TestServer;
let alice: SignedInUser;
let bob: SignedInUser;
/** A user who signed in and was then deleted. */
let gone: SignedInUser;

before(async () => {
  server = await startTestServer();
  [alice, bob, gone] = await Promise.all([
    createSignedInUser(server.url, { name: "Alice" }),
    createSignedInUser(server.url, { name: "Bob" }),
    createSignedInUser(server.url, { name: "Gone" }),
  ]);
  await clientFor(UserService, server.url, "grpc").deleteUser({ id: gone.user.id });
});
after(async () => {
  await server?.close();
});

/** Authorization header values that must all be refused (undefined: no header at all). */
async function badCredentials(): Promise<[string, string | undefined][]> {
  const sub = alice.user.id;
  const claims = claimsOf(alice.token);
  const now = Math.floor(Date.now() / 1000);
  return [
    ["no Authorization header", undefined],
    ["an empty header", ""],
    ["a Basic header", `Basic ${Buffer.from(`${alice.user.email}:${alice.password}`).toString("base64")}`],
    ["Bearer without a token", "Bearer "],
    ["a token without the Bearer scheme", alice.token],
    ["a garbage token", "Bearer not.a.jwt"],
    ["a token with spaces", `Bearer ${alice.token} ${alice.token}`],
    ["an over-long token", `Bearer ${"a".repeat(5000)}`],
    [
      "a JWT signed with another key",
      `Bearer ${await mintToken({ sub, key: "another-deployment-secret-0123456789abcdef" })}`,
    ],
    [
      'an unsigned token (alg "none")',
      `Bearer ${unsignedToken({ ...claims, role: "admin", iat: now, exp: now + 3600 })}`,
    ],
    [
      "alice's token with role: admin in its payload",
      `Bearer ${tamperedToken(alice.token, (c) => (c.role = "admin"))}`,
    ],
    [
      "alice's token with bob's id in its payload",
      `Bearer ${tamperedToken(alice.token, (c) => (c.sub = bob.user.id))}`,
    ],
    ["alice's token with its signature cut off", `Bearer ${alice.token.split(".").slice(0, 2).join(".")}.`],
    ["an expired token", `Bearer ${await mintToken({ sub, expiresIn: -60 })}`],
    [
      "an expired token with exp far in the past",
      `Bearer ${await mintToken({ sub, expiresIn: -86_400 * 365 })}`,
    ],
    ["a token signed with the right key but HS512", `Bearer ${await mintToken({ sub, alg: "HS512" })}`],
    ["a token for another issuer", `Bearer ${await mintToken({ sub, issuer: "someone-else" })}`],
    ["a token for another audience", `Bearer ${await mintToken({ sub, audience: "someone-else" })}`],
    ["a token with an unknown role", `Bearer ${await mintToken({ sub, role: "root" })}`],
    ["a token for a user who never existed", `Bearer ${await mintToken({ sub: randomUUID() })}`],
    ["the token of a deleted user", `Bearer ${gone.token}`],
    ["the admin token with one character more", `Bearer ${testAdminToken}x`],
    ["the admin token cut short", `Bearer ${testAdminToken.slice(0, -1)}`],
  ];
}

describe("bad credentials", () => {
  for (const protocol of connectAndGrpc) {
    test(`over ${protocol}: each is UNAUTHENTICATED with www-authenticate, and does not echo the token`, async () => {
      for (const [what, header] of await badCredentials()) {
        const headers: Record<string, string> = header === undefined ? {} : { authorization: header };
        const users = clientAs(UserService, server.url, protocol, null, headers);
        const err = await expectCode(users.getUser({ id: alice.user.id }), Code.Unauthenticated, what);
        assert.match(err.metadata.get("www-authenticate") ?? "", /^Bearer /, `${what}: www-authenticate`);
        const token = header?.replace(/^Bearer /, "") ?? "";
        if (token.length > 8)
          assert.ok(!err.rawMessage.includes(token), `${what}: the message echoes the token`);
        // Streams too: the check happens before any handler runs.
        await expectCode(collect(users.listUsers({})), Code.Unauthenticated, `${what} (ListUsers)`);
      }
      // The real token works, so the refusals above are about the credential.
      const users = clientFor(UserService, server.url, protocol, alice.token);
      assert.equal((await users.getUser({ id: alice.user.id })).user?.id, alice.user.id);
      // "bearer" is case-insensitive (RFC 7235), and surrounding whitespace is tolerated.
      const lower = clientAs(UserService, server.url, protocol, null, {
        authorization: `bearer ${alice.token}`,
      });
      assert.equal((await lower.getUser({ id: alice.user.id })).user?.id, alice.user.id);
    });
  }

  // Needs the signing key to make, so not an outside attack; but a token that names no user
  // is not a valid credential, and the database's complaint about the id should not leak out.
  test("a correctly signed token whose subject is not a user id is UNAUTHENTICATED", async () => {
    for (const sub of ["'; drop table users; --", "not-a-uuid", "00000000"]) {
      const token = await mintToken({ sub });
      for (const protocol of connectAndGrpc) {
        await expectCode(
          clientFor(UserService, server.url, protocol, token).getUser({ id: alice.user.id }),
          Code.Unauthenticated,
          `sub ${JSON.stringify(sub)} over ${protocol}`,
        );
      }
    }
  });

  test("a deleted user's token stops working at once, also on streams it would open", async () => {
    const carol = await createSignedInUser(server.url, { name: "Carol" });
    const asCarol = clientFor(UserService, server.url, "grpc", carol.token);
    await asCarol.getUser({ id: carol.user.id });
    await clientFor(UserService, server.url, "grpc").deleteUser({ id: carol.user.id });
    await expectCode(asCarol.getUser({ id: carol.user.id }), Code.Unauthenticated, "after deletion");
    await expectCode(
      collect(
        asCarol.userStream(
          streamOf([{ requestId: "1", operation: { case: "get", value: { id: carol.user.id } } }]),
        ),
      ),
      Code.Unauthenticated,
      "UserStream after deletion",
    );
  });
});

describe("public services", () => {
  for (const protocol of connectAndGrpc) {
    test(`over ${protocol}: health Check works without a token`, async () => {
      const health = clientFor(Health, server.url, protocol, null);
      const { status } = await health.check({ service: "" });
      assert.equal(status, HealthCheckResponse_ServingStatus.SERVING);
    });
  }

  test("reflection works without a token (gRPC and Connect over h2c)", async () => {
    for (const protocol of ["grpc", "connect-binary-h2c"] as const) {
      const reflection = clientFor(ServerReflection, server.url, protocol, null);
      const [answer] = await collect(
        reflection.serverReflectionInfo(streamOf([{ messageRequest: { case: "listServices", value: "" } }])),
      );
      const names =
        answer?.messageResponse.case === "listServicesResponse"
          ? answer.messageResponse.value.service.map((s) => s.name)
          : [];
      assert.ok(names.includes("switchboard.v1.UserService"), `${protocol}: ${names.join(", ")}`);
    }
  });

  test("SignIn needs no token, and a token does not change what it does", async () => {
    for (const token of [null, bob.token, "garbage"]) {
      const { user } = await clientFor(AuthService, server.url, "grpc", token).signIn({
        email: alice.user.email,
        password: alice.password,
      });
      assert.equal(user?.id, alice.user.id);
    }
  });
});

describe("sign-in", () => {
  for (const protocol of connectAndGrpc) {
    test(`over ${protocol}: a wrong password, an unknown email and a user without a password get the same answer`, async () => {
      const auth = clientFor(AuthService, server.url, protocol, null);
      const { user: noPassword } = await clientFor(UserService, server.url, "grpc").createUser({
        name: "No Password",
        email: `no-password-${randomUUID()}@example.com`,
        age: 40,
      });
      const cases: [string, { email: string; password: string }][] = [
        ["wrong password", { email: alice.user.email, password: "wrong-password" }],
        ["unknown email", { email: `nobody-${randomUUID()}@example.com`, password: "wrong-password" }],
        ["user without a password", { email: noPassword?.email ?? "", password: "wrong-password" }],
        ["right password, other user's email", { email: bob.user.email, password: alice.password }],
      ];
      const answers: string[] = [];
      const times: string[] = [];
      for (const [what, req] of cases) {
        const start = performance.now();
        const err = await expectCode(auth.signIn(req), Code.Unauthenticated, what);
        times.push(`${what} ${(performance.now() - start).toFixed(0)} ms`);
        answers.push(`${err.code} ${err.rawMessage}`);
      }
      assert.equal(new Set(answers).size, 1, `one answer for all: ${answers.join(" | ")}`);
      assert.equal(answers[0], `${Code.Unauthenticated} wrong email or password`);
      // Timing is measured, not asserted: the decoy hash should make these comparable.
      console.log(`sign-in refusal times over ${protocol}: ${times.join(", ")}`);
    });
  }

  test("a session token expires after TOKEN_TTL_SECONDS and names the user, not their password", async () => {
    const { token, expireTime, user } = await clientFor(AuthService, server.url, "grpc", null).signIn({
      email: bob.user.email,
      password: bob.password,
    });
    const claims = claimsOf(token);
    assert.equal(claims.sub, bob.user.id);
    const ttl = Number(expireTime?.seconds) - Date.now() / 1000;
    assert.ok(ttl > 3500 && ttl <= 3600, `expires in ${ttl} s (TOKEN_TTL_SECONDS 3600)`);
    assert.equal(claims.exp, Number(expireTime?.seconds));
    assert.equal(user?.role, Role.USER);
    assert.ok(!JSON.stringify(claims).includes(bob.password));
    assert.deepEqual(Object.keys(claims).sort(), ["aud", "exp", "iat", "iss", "role", "sep", "sub"]);
  });
});

describe("a password change ends the user's sessions", () => {
  for (const protocol of connectAndGrpc) {
    test(`over ${protocol}: the changing session gets a new token; every earlier token is UNAUTHENTICATED`, async () => {
      const carol = await createSignedInUser(server.url, { name: "Carol" });
      const { token: otherSession } = await clientFor(AuthService, server.url, protocol, null).signIn({
        email: carol.user.email,
        password: carol.password,
      });
      const newPassword = `new-${randomUUID()}`;
      const changed = await clientFor(AuthService, server.url, protocol, carol.token).setPassword({
        currentPassword: carol.password,
        newPassword,
      });
      assert.ok(changed.token, "a token for the session that made the change");
      assert.ok(changed.expireTime && Number(changed.expireTime.seconds) * 1000 > Date.now());
      for (const [what, token] of [
        ["the token that made the change", carol.token],
        ["another session's token", otherSession],
      ] as const) {
        const err = await expectCode(
          clientFor(AuthService, server.url, protocol, token).getSession({}),
          Code.Unauthenticated,
          what,
        );
        assert.match(err.rawMessage, /password was changed/);
      }
      const session = await clientFor(AuthService, server.url, protocol, changed.token).getSession({});
      assert.equal(session.user?.id, carol.user.id);
      // Only the new password signs in.
      const auth = clientFor(AuthService, server.url, protocol, null);
      await expectCode(
        auth.signIn({ email: carol.user.email, password: carol.password }),
        Code.Unauthenticated,
      );
      const again = await auth.signIn({ email: carol.user.email, password: newPassword });
      assert.equal(again.user?.id, carol.user.id);

      // An admin setting Carol's password ends her sessions too; the admin gets no token.
      const byAdmin = await clientFor(AuthService, server.url, protocol).setPassword({
        userId: carol.user.id,
        newPassword: `admin-set-${randomUUID()}`,
      });
      assert.equal(byAdmin.token, "");
      assert.equal(byAdmin.expireTime, undefined);
      for (const token of [changed.token, again.token]) {
        await expectCode(
          clientFor(UserService, server.url, protocol, token).getUser({ id: carol.user.id }),
          Code.Unauthenticated,
          "a session from before the admin's change",
        );
      }
      // Nobody else's session is touched.
      const bobs = await clientFor(AuthService, server.url, protocol, bob.token).getSession({});
      assert.equal(bobs.user?.id, bob.user.id);
    });
  }

  for (const protocol of ["grpc", "connect-binary-h2c"] as const) {
    test(`over ${protocol}: streams open under an ended session end UNAUTHENTICATED (a password change, a deletion)`, async () => {
      const erin = await createSignedInUser(server.url, { name: "Erin" });
      const room = `revoked-${protocol}-${randomUUID().slice(0, 8)}`;
      const chat = clientFor(ChatService, server.url, protocol, erin.token);
      // A live Subscribe, shown to be open by a message it receives.
      const messages = chat.subscribe({ room, afterSequence: 0n })[Symbol.asyncIterator]();
      await chat.sendMessage({ room, content: "hello" });
      assert.equal((await messages.next()).value?.message?.content, "hello");
      // A bidi Chat, open too.
      const outgoing = createWritableIterable<{ room: string; content: string }>();
      const bidi = chat.chat(outgoing)[Symbol.asyncIterator]();
      void outgoing.write({ room, content: "from the stream" });
      assert.equal((await bidi.next()).value?.message?.content, "from the stream");
      assert.equal((await messages.next()).value?.message?.content, "from the stream");

      await clientFor(AuthService, server.url, "grpc").setPassword({
        userId: erin.user.id,
        newPassword: `reset-${randomUUID()}`,
      });
      for (const [what, stream] of [
        ["Subscribe", messages],
        ["Chat", bidi],
      ] as const) {
        const err = await expectCode(
          stream.next(),
          Code.Unauthenticated,
          `${what} after the password change`,
        );
        assert.match(err.rawMessage, /password was changed/);
      }
      outgoing.close();

      // Deleting a user ends their streams the same way.
      const frank = await createSignedInUser(server.url, { name: "Frank" });
      const franks = clientFor(ChatService, server.url, protocol, frank.token);
      const live = franks.subscribe({ room, afterSequence: 0n })[Symbol.asyncIterator]();
      await franks.sendMessage({ room, content: "still here" });
      for (;;) {
        const { value } = await live.next();
        if (value?.message?.content === "still here") break;
      }
      await clientFor(UserService, server.url, "grpc").deleteUser({ id: frank.user.id });
      await expectCode(live.next(), Code.Unauthenticated, "Subscribe after the deletion");
    });
  }

  test("the epoch a token was issued under is in its claims, and a forged epoch does not sign", async () => {
    const dave = await createSignedInUser(server.url, { name: "Dave" });
    assert.equal(claimsOf(dave.token).sep, 0);
    const { token } = await clientFor(AuthService, server.url, "grpc", dave.token).setPassword({
      currentPassword: dave.password,
      newPassword: `new-${randomUUID()}`,
    });
    assert.equal(claimsOf(token).sep, 1);
    // Raising the epoch of an old token by hand breaks its signature.
    await expectCode(
      clientFor(
        AuthService,
        server.url,
        "grpc",
        tamperedToken(dave.token, (c) => {
          c.sep = 1;
        }),
      ).getSession({}),
      Code.Unauthenticated,
    );
  });
});

describe("passwords", () => {
  test("the User message has no field that could carry a password or its hash", () => {
    const names = UserSchema.fields.map((f) => f.name);
    assert.ok(!names.some((n) => /pass|hash|secret/i.test(n)), names.join(", "));
  });

  test("no response carries the password or its hash (raw Connect JSON)", async () => {
    const password = `secret-${randomUUID()}`;
    const email = `raw-${randomUUID()}@example.com`;
    const post = async (method: string, body: unknown, token: string | null = testAdminToken) => {
      const res = await fetch(`${server.url}/${method}`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: JSON.stringify(body),
      });
      const text = await res.text();
      assert.equal(res.status, 200, `${method}: ${text}`);
      return text;
    };
    const created = await post("switchboard.v1.UserService/CreateUser", {
      name: "Raw",
      email,
      age: 33,
      password,
    });
    const id = (JSON.parse(created) as { user: { id: string } }).user.id;
    const signedIn = await post("switchboard.v1.AuthService/SignIn", { email, password }, null);
    const token = (JSON.parse(signedIn) as { token: string }).token;
    const [row] = await queryRows<{ password_hash: string }>(
      server,
      sql`select password_hash from users where id = ${id}`,
    );
    const hash = row?.password_hash ?? "";
    const bodies = {
      CreateUser: created,
      SignIn: signedIn,
      GetUser: await post("switchboard.v1.UserService/GetUser", { id }, token),
      GetSession: await post("switchboard.v1.AuthService/GetSession", {}, token),
      UpdateUser: await post(
        "switchboard.v1.UserService/UpdateUser",
        { user: { id, name: "Raw 2" }, updateMask: "name" },
        token,
      ),
      SetPassword: await post(
        "switchboard.v1.AuthService/SetPassword",
        { currentPassword: password, newPassword: password },
        token,
      ),
    };
    for (const [method, body] of Object.entries(bodies)) {
      assert.ok(!body.includes(password), `${method} echoes the password: ${body}`);
      assert.ok(!/password|hash|scrypt/i.test(body), `${method} names a password or hash: ${body}`);
      assert.ok(hash === "" || !body.includes(hash.split("$").at(-1) ?? hash), `${method} carries the hash`);
    }
  });

  test("passwords are stored as salted scrypt hashes", async () => {
    const password = `same-${randomUUID()}`;
    const admin = clientFor(UserService, server.url, "grpc");
    const made = await Promise.all(
      [1, 2].map((i) =>
        admin.createUser({
          name: `Same ${i}`,
          email: `same-${i}-${randomUUID()}@example.com`,
          age: 20,
          password,
        }),
      ),
    );
    const ids = made.map((m) => m.user?.id ?? "");
    const rows = await queryRows<{ id: string; password_hash: string }>(
      server,
      sql`select id, password_hash from users where id in (${ids[0]}, ${ids[1]})`,
    );
    assert.equal(rows.length, 2);
    for (const { password_hash } of rows) {
      assert.match(password_hash, /^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
      assert.ok(!password_hash.includes(password));
      const [, n] = password_hash.split("$");
      assert.ok(Number(n) >= 2 ** 14, `scrypt N=${n}`);
    }
    assert.notEqual(
      rows[0]?.password_hash,
      rows[1]?.password_hash,
      "salted: same password, different hashes",
    );
  });
});
