import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../logger.ts";

export interface AuthSecrets {
  /** HMAC key that signs and checks session tokens (HS256). */
  signingKey: Uint8Array;
  /** The operator's bootstrap bearer token: admin, names no user, does not expire. */
  adminToken: string;
}

export interface SecretSources {
  /** AUTH_SECRET: at least 32 characters; every instance of a deployment must share it. */
  authSecret: string | undefined;
  /** ADMIN_TOKEN. */
  adminToken: string | undefined;
  /** Where generated secrets are kept; "memory://" keeps them in memory for this process only. */
  dataDir: string;
  logger: Logger;
  /** Where a newly generated admin token is printed, once (stderr by default). */
  print?: (text: string) => void;
}

/**
 * The server's secrets: from the environment when given (production), else generated once
 * and kept under DATA_DIR with mode 0600 (development), so tokens survive a restart. A new
 * admin token is printed once, when it is made; later starts only say where it is.
 */
export function loadAuthSecrets(src: SecretSources): AuthSecrets {
  const memory = src.dataDir.startsWith("memory://");
  const keep = (name: string, make: () => string): { value: string; created: boolean } => {
    if (memory) return { value: make(), created: true };
    const file = join(src.dataDir, name);
    try {
      return { value: readFileSync(file, "utf8").trim(), created: false };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    mkdirSync(src.dataDir, { recursive: true });
    const value = make();
    // "wx": never overwrite one another instance just wrote.
    writeFileSync(file, `${value}\n`, { mode: 0o600, flag: "wx" });
    chmodSync(file, 0o600);
    return { value, created: true };
  };

  const secret = src.authSecret ?? keep("auth-secret", () => randomBytes(32).toString("base64url")).value;
  let adminToken = src.adminToken;
  if (adminToken === undefined) {
    const kept = keep("admin-token", () => `sb_admin_${randomBytes(32).toString("base64url")}`);
    adminToken = kept.value;
    const where = memory ? "in memory only" : `in ${join(src.dataDir, "admin-token")}`;
    if (kept.created) {
      const print = src.print ?? ((text: string) => process.stderr.write(text));
      print(
        `\nAdmin token (shown once; kept ${where}):\n\n  ${adminToken}\n\n` +
          `Use it as "Authorization: Bearer <token>", or paste it into the dashboard's sign-in.\n\n`,
      );
    } else {
      src.logger.info({ file: join(src.dataDir, "admin-token") }, "admin token loaded");
    }
  }
  return { signingKey: new TextEncoder().encode(secret), adminToken };
}
