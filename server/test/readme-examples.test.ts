// Runs every shell block between <!-- examples:start --> and <!-- examples:end --> in the
// README against a live server, so that the examples a newcomer copies actually work.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { startTestServer, type TestServer } from "./support/test-server.ts";

const root = new URL("../../", import.meta.url).pathname;
const readme = readFileSync(`${root}README.md`, "utf8");
const section = readme.split("<!-- examples:start -->")[1]?.split("<!-- examples:end -->")[0] ?? "";
const blocks = [...section.matchAll(/```bash\n([\s\S]*?)```/g)].map((m) => m[1] ?? "");

let server: TestServer;
before(async () => {
  server = await startTestServer();
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
          env: { ...process.env, PATH: `${root}node_modules/.bin:${process.env.PATH}` },
        },
        (err, stdout, stderr) => resolve({ status: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
      );
    });
    assert.equal(res.status, 0, `exit ${res.status}\n${res.stdout}\n${res.stderr}`);
    assert.ok(res.stdout.trim().length > 0, "printed an answer");
    // buf curl reports a refused command (even one behind `|| true`) as "Failure: …".
    assert.doesNotMatch(res.stderr, /^Failure:/m);
    assert.doesNotMatch(res.stdout, /"code":\s*"(internal|unknown|unavailable|unimplemented)"/);
  });
}

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
        execFile(cmd, args, { cwd: root, timeout: 30_000 }, (err, stdout, stderr) =>
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
