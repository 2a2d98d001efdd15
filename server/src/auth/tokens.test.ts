import assert from "node:assert/strict";
import { test } from "node:test";
import { SignJWT, UnsecuredJWT } from "jose";
import { createTokens, TokenError } from "./tokens.ts";

const key = new TextEncoder().encode("k".repeat(32));
const tokens = createTokens({ signingKey: key, adminToken: "a".repeat(40), ttlSeconds: 3600 });

test("an issued token verifies to its user, role and expiry", async () => {
  const before = Date.now();
  const { token, expiresAt } = await tokens.issue("0190b6f6-0000-7000-8000-000000000001", "user", 3);
  const claims = await tokens.verify(token);
  assert.equal(claims.userId, "0190b6f6-0000-7000-8000-000000000001");
  assert.equal(claims.role, "user");
  assert.equal(claims.sessionEpoch, 3);
  assert.equal(claims.expiresAt.getTime(), expiresAt.getTime());
  assert.ok(expiresAt.getTime() >= before + 3599_000 && expiresAt.getTime() <= Date.now() + 3600_000);
});

async function rejects(token: string, message: RegExp) {
  await assert.rejects(
    tokens.verify(token),
    (err: unknown) => err instanceof TokenError && message.test(err.message),
  );
}

test("forged, tampered, unsigned and expired tokens are refused", async () => {
  const { token } = await tokens.issue("u1", "user", 0);
  const [header, , signature] = token.split(".");
  const payload = Buffer.from(JSON.stringify({ sub: "u1", role: "admin", exp: 4102444800, iat: 1 })).toString(
    "base64url",
  );
  await rejects(`${header}.${payload}.${signature}`, /not valid/);
  const otherKey = new TextEncoder().encode("x".repeat(32));
  const foreign = await new SignJWT({ role: "admin" })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject("u1")
    .setIssuer("switchboard")
    .setAudience("switchboard")
    .setIssuedAt()
    .setExpirationTime("1h")
    .sign(otherKey);
  await rejects(foreign, /not valid/);
  const unsigned = new UnsecuredJWT({ role: "admin" })
    .setSubject("u1")
    .setIssuer("switchboard")
    .setAudience("switchboard")
    .setIssuedAt()
    .setExpirationTime("1h")
    .encode();
  await rejects(unsigned, /not valid/);
  const expired = await new SignJWT({ role: "user" })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject("u1")
    .setIssuer("switchboard")
    .setAudience("switchboard")
    .setIssuedAt(Math.floor(Date.now() / 1000) - 7200)
    .setExpirationTime(Math.floor(Date.now() / 1000) - 3600)
    .sign(key);
  await rejects(expired, /expired/);
  const wrongAudience = await new SignJWT({ role: "user" })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject("u1")
    .setIssuer("switchboard")
    .setAudience("someone-else")
    .setIssuedAt()
    .setExpirationTime("1h")
    .sign(key);
  await rejects(wrongAudience, /not valid/);
  await rejects("not-a-jwt", /not valid/);
});

test("a token's session epoch: issued into it, 0 when absent (tokens from before epochs), refused when not a count", async () => {
  const signed = (claims: Record<string, unknown>) =>
    new SignJWT({ role: "user", ...claims })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("0190b6f6-0000-7000-8000-000000000002")
      .setIssuer("switchboard")
      .setAudience("switchboard")
      .setIssuedAt()
      .setExpirationTime("1h")
      .sign(key);
  assert.equal((await tokens.verify(await signed({}))).sessionEpoch, 0);
  assert.equal((await tokens.verify(await signed({ sep: 7 }))).sessionEpoch, 7);
  for (const sep of [-1, 1.5, "1", null]) await rejects(await signed({ sep }), /session epoch/);
});

test("the admin token is recognised exactly", () => {
  assert.equal(tokens.isAdminToken("a".repeat(40)), true);
  assert.equal(tokens.isAdminToken("a".repeat(39)), false);
  assert.equal(tokens.isAdminToken(`${"a".repeat(40)}b`), false);
});
