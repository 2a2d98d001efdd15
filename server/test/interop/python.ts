// Runs a Python script with the system interpreter, where Debian's python3-grpcio and
// python3-protobuf live (a pyenv python3 earlier on PATH has neither), and parses the JSON it prints.
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";

const python = process.env.INTEROP_PYTHON ?? "/usr/bin/python3";

/** Runs `script` with `args`; `env` adds variables to this process's environment. */
export function runPython(
  script: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<unknown> {
  const path = fileURLToPath(new URL(`./python/${script}`, import.meta.url));
  return new Promise((resolve, reject) => {
    // -B: no __pycache__ next to the scripts.
    const options = { timeout: 30_000, env: { ...process.env, ...env } };
    execFile(python, ["-B", path, ...args], options, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`${python} ${script} failed: ${err.message}\n${stderr}`));
        return;
      }
      try {
        resolve(JSON.parse(stdout));
      } catch {
        reject(new Error(`${script} printed no JSON:\n${stdout}\n${stderr}`));
      }
    });
  });
}
