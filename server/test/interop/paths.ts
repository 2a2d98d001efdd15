// Where things are, for the helpers that start other programs.
import { fileURLToPath } from "node:url";

export const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
/** The FileDescriptorSet of every proto with its imports; clients read their schema from it. */
export const descriptorSet = `${repoRoot}gen/switchboard.binpb`;
