// Small, checked patches to dependencies, applied after every install (`postinstall`).
// Each names the exact text it replaces; if an upgrade changes that text the install fails
// here, loudly, instead of the patch silently not applying.
import { readFileSync, writeFileSync } from "node:fs";

interface Patch {
  /** Why, in a line: printed when applied. */
  why: string;
  files: string[];
  from: string;
  to: string;
}

const patches: Patch[] = [
  {
    // A request body that is not valid protobuf is the client's mistake: INVALID_ARGUMENT,
    // as connect-es already answers for invalid JSON (design §3: never INTERNAL for a
    // client's mistake). Upstream answers INTERNAL, before any interceptor could remap it.
    why: "@connectrpc/connect: undecodable protobuf is INVALID_ARGUMENT, not INTERNAL",
    // The server loads the ES module build only.
    files: ["node_modules/@connectrpc/connect/dist/esm/protocol/serialization.js"],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: source text of the patched file
    from: "throw new ConnectError(`parse binary: ${m}`, Code.Internal);",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: source text of the patched file
    to: "throw new ConnectError(`parse binary: ${m}`, Code.InvalidArgument);",
  },
];

const root = new URL("..", import.meta.url).pathname;
for (const patch of patches) {
  for (const file of patch.files) {
    const path = root + file;
    const text = readFileSync(path, "utf8");
    if (text.includes(patch.to)) continue;
    if (!text.includes(patch.from)) {
      throw new Error(`patch-dependencies: ${file} no longer contains the patched text (${patch.why})`);
    }
    writeFileSync(path, text.replace(patch.from, patch.to));
  }
  console.log(`patched: ${patch.why}`);
}
