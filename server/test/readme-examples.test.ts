// Runs every shell block between <!-- examples:start --> and <!-- examples:end --> in the
// README against a live server, so that the examples a newcomer copies actually work. The
// server runs with the test admin token, given to the examples as ADMIN_TOKEN (what the README
// tells a reader to export), and with the default rate and stream limits of `npm start`.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { testAdminToken } from "./support/auth.ts";
import { startTestServer, type TestServer } from "./support/test-server.ts";

const root = new URL("../../", import.meta.url).pathname;
const readme = readFileSync(`${root}README.md`, "utf8");
const section = readme.split("<!-- examples:start -->")[1]?.split("<!-- examples:end -->")[0] ?? "";
const blocks = [...section.matchAll(/```bash\n([\s\S]*?)```/g)].map((m) => m[1] ?? "");

/** What the examples and client programs run with: the token the README reads from ADMIN_TOKEN. */
const env = { ...process.env, ADMIN_TOKEN: testAdminToken };

let server: TestServer;
before(async () => {
  // startTestServer turns the limits off; the examples must also work with the defaults on.
  server = await startTestServer({
    ADMIN_TOKEN: testAdminToken,
    RATE_LIMIT_USER_PER_SECOND: "10",
    RATE_LIMIT_ADDRESS_PER_SECOND: "100",
    MAX_STREAMS_PER_USER: "32",
    MAX_STREAMS_PER_ADDRESS: "512",
  });
});
after(async () => {
  await server?.close();
});

test("the README has examples", () => {
  assert.ok(blocks.length >= 6, `found ${blocks.length} example blocks`);
});

for (const [i, block] of blocks.entries()) {
  const rpcs = [...block.matchAll(/\/switchboard\.v1\.(\w+\/\w+)/g)].map((m) => m[1]);
  const protocol = block.match(/--protocol (\w+)/)?.[1] ?? "curl";
  test(`README example ${i + 1}: ${protocol} ${rpcs.join(", ")}`, async () => {
    const script = block.replaceAll("localhost:8080", `127.0.0.1:${server.port}`);
    // Asynchronous: the server runs in this process and must keep answering meanwhile.
    const res = await new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        "bash",
        ["-euo", "pipefail", "-c", script],
        {
          cwd: root,
          timeout: 30_000,
          env: { ...env, PATH: `${root}node_modules/.bin:${process.env.PATH}` },
        },
        (err, stdout, stderr) => resolve({ status: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
      );
    });
    assert.equal(res.status, 0, `exit ${res.status}\n${res.stdout}\n${res.stderr}`);
    assert.ok(res.stdout.trim().length > 0, "printed an answer");
    // buf curl reports a refused command (even one behind `|| true`) as "Failure: …".
    assert.doesNotMatch(res.stderr, /^Failure:/m);
    assert.doesNotMatch(
      res.stdout,
      /"code":\s*"(internal|unknown|unavailable|unimplemented|unauthenticated)"/,
    );
    if (rpcs.includes("AuthService/SignIn")) {
      // The sign-in example calls as the user the admin created (the first id printed): the
      // session is that user's, with ROLE_USER, and the order placed with no user_id is theirs.
      const userId = /"id": "([^"]+)"/.exec(res.stdout)?.[1] ?? "";
      assert.equal(
        res.stdout.split(`"id": "${userId}"`).length - 1,
        rpcs.includes("AuthService/SetPassword") ? 3 : 2,
        "CreateUser, then GetSession's user (and again with the token SetPassword answered)",
      );
      // After SetPassword, the token from before is refused (the status alone is printed).
      if (rpcs.includes("AuthService/SetPassword")) assert.match(res.stdout, /^401$/m);
      assert.match(res.stdout, /"role": "ROLE_USER"/);
      assert.ok(res.stdout.includes(`"userId": "${userId}"`), "the order is the signed-in user's");
    }
  });
}

test("the examples include signing in", () => {
  assert.ok(
    blocks.some((b) => b.includes("/switchboard.v1.AuthService/SignIn")),
    "a block that calls AuthService/SignIn",
  );
});

// The client programs between <!-- clients:start --> and <!-- clients:end -->.
const clients = readme.split("<!-- clients:start -->")[1]?.split("<!-- clients:end -->")[0] ?? "";
const programs = [...clients.matchAll(/```(js|python)\n([\s\S]*?)```/g)].map((m) => ({
  language: m[1] ?? "",
  source: m[2] ?? "",
}));

test("the README has a grpc-js and a Python client", () => {
  assert.deepEqual(programs.map((p) => p.language).sort(), ["js", "python"]);
});

for (const { language, source } of programs) {
  test(`README ${language} client`, async () => {
    const dir = mkdtempSync(join(root, ".readme-client-"));
    try {
      const file = join(dir, language === "js" ? "client.mjs" : "client.py");
      // Runs from the repository root (for gen/ and node_modules), against the test server.
      writeFileSync(file, source.replaceAll("localhost:8080", `127.0.0.1:${server.port}`));
      const [cmd, args] = language === "js" ? [process.execPath, [file]] : ["/usr/bin/python3", [file]];
      const res = await new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
        execFile(cmd, args, { cwd: root, timeout: 30_000, env }, (err, stdout, stderr) =>
          resolve({ status: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
        );
      });
      assert.equal(res.status, 0, `exit ${res.status}\n${res.stdout}\n${res.stderr}`);
      assert.match(res.stdout, /^created [0-9a-f-]{36}$/m);
      assert.match(res.stdout, language === "js" ? /^linus@example\.com$/m : /^guido@example\.com$/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
