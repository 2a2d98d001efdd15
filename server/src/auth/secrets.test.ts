import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { pino } from "pino";
import { loadAuthSecrets } from "./secrets.ts";

const logger = pino({ level: "silent" });

test("without env, secrets are generated once, kept 0600 under DATA_DIR, and the admin token printed once", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "switchboard-secrets-"));
  try {
    const printed: string[] = [];
    const print = (text: string) => printed.push(text);
    const first = loadAuthSecrets({ authSecret: undefined, adminToken: undefined, dataDir, logger, print });
    assert.equal(printed.length, 1);
    assert.ok(printed[0]?.includes(first.adminToken));
    assert.ok(first.adminToken.length >= 32);
    for (const file of ["admin-token", "auth-secret"]) {
      assert.equal(statSync(join(dataDir, file)).mode & 0o777, 0o600, file);
    }
    assert.equal(readFileSync(join(dataDir, "admin-token"), "utf8").trim(), first.adminToken);
    const second = loadAuthSecrets({ authSecret: undefined, adminToken: undefined, dataDir, logger, print });
    assert.equal(printed.length, 1, "not printed again");
    assert.equal(second.adminToken, first.adminToken);
    assert.deepEqual(second.signingKey, first.signingKey);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test("secrets from the environment win and nothing is written or printed", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "switchboard-secrets-"));
  try {
    const printed: string[] = [];
    const s = loadAuthSecrets({
      authSecret: "s".repeat(32),
      adminToken: "t".repeat(32),
      dataDir,
      logger,
      print: (text) => printed.push(text),
    });
    assert.equal(s.adminToken, "t".repeat(32));
    assert.deepEqual(s.signingKey, new TextEncoder().encode("s".repeat(32)));
    assert.deepEqual(printed, []);
    assert.throws(() => statSync(join(dataDir, "admin-token")));
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
