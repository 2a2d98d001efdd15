import assert from "node:assert/strict";
import { test } from "node:test";
import { hashPassword, verifyDecoy, verifyPassword } from "./passwords.ts";

test("a password verifies against its hash and nothing else does", async () => {
  const stored = await hashPassword("correct horse battery staple");
  assert.match(stored, /^scrypt\$32768\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
  assert.equal(stored.includes("correct horse"), false);
  assert.equal(await verifyPassword("correct horse battery staple", stored), true);
  assert.equal(await verifyPassword("correct horse battery stapl", stored), false);
  assert.equal(await verifyPassword("", stored), false);
});

test("the same password hashes differently each time (salted)", async () => {
  const [a, b] = await Promise.all([hashPassword("same"), hashPassword("same")]);
  assert.notEqual(a, b);
});

test("a malformed stored hash never verifies; the decoy never succeeds", async () => {
  assert.equal(await verifyPassword("x", "plain-text"), false);
  assert.equal(await verifyPassword("x", "bcrypt$1$2$3$4$5"), false);
  assert.equal(await verifyDecoy("anything"), false);
});
