// Regenerates gen/ from proto/.
//
// The Buf Schema Registry is out of reach here, so buf cannot resolve buf/validate from a
// `deps:` entry. Instead protoc compiles proto/ against a descriptor set of the dependencies
// built from what npm packages already embed (protovalidate's compiled descriptor, the
// well-known types of @bufbuild/protobuf) plus google/rpc/status.proto from
// google-proto-files. The resulting image (gen/switchboard.binpb) is what buf lints and
// generates from, what `buf curl --schema` reads, and what Python clients load.
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { create, type DescFile, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { file_buf_validate_validate } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";

const root = new URL("..", import.meta.url).pathname;
const image = join(root, "gen/switchboard.binpb");
const bin = (name: string) => join(root, "node_modules/.bin", name);
const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { cwd: root, stdio: "inherit" });

/** Files in dependency order: every import before the file that imports it. */
function closure(files: DescFile[]): DescFile[] {
  const out: DescFile[] = [];
  const seen = new Set<string>();
  const visit = (f: DescFile) => {
    if (seen.has(f.name)) return;
    seen.add(f.name);
    for (const dep of f.dependencies) visit(dep);
    out.push(f);
  };
  for (const f of files) visit(f);
  return out;
}

const work = mkdtempSync(join(tmpdir(), "switchboard-gen-"));
try {
  const deps = closure([file_buf_validate_validate]);
  const depSet = join(work, "deps.binpb");
  writeFileSync(
    depSet,
    toBinary(FileDescriptorSetSchema, create(FileDescriptorSetSchema, { file: deps.map((f) => f.proto) })),
  );
  // google/rpc/status.proto imports google/protobuf/any.proto, which protoc also finds in
  // google-proto-files; the descriptor set takes precedence for files it contains.
  const googleapis = join(root, "node_modules/google-proto-files");
  // The standard gRPC services, staged under their canonical file names.
  const staged = join(work, "include");
  const stage = (from: string, to: string) => {
    mkdirSync(dirname(join(staged, to)), { recursive: true });
    copyFileSync(join(root, "node_modules", from), join(staged, to));
  };
  stage("grpc-health-check/proto/health/v1/health.proto", "grpc/health/v1/health.proto");
  for (const v of ["v1", "v1alpha"]) {
    stage(
      `@grpc/reflection/build/proto/grpc/reflection/${v}/reflection.proto`,
      `grpc/reflection/${v}/reflection.proto`,
    );
  }
  const protos = readdirSync(join(root, "proto/switchboard/v1"))
    .filter((f) => f.endsWith(".proto"))
    .map((f) => `switchboard/v1/${f}`);
  mkdirSync(join(root, "gen"), { recursive: true });
  run("protoc", [
    `--descriptor_set_in=${depSet}`,
    `-I${join(root, "proto")}`,
    `-I${googleapis}`,
    `-I${staged}`,
    "--include_imports",
    "--include_source_info",
    `--descriptor_set_out=${image}`,
    ...protos,
    // RetryInfo tells a rate-limited client when to come back.
    "google/rpc/error_details.proto",
    "grpc/health/v1/health.proto",
    "grpc/reflection/v1/reflection.proto",
    "grpc/reflection/v1alpha/reflection.proto",
  ]);
  run(bin("buf"), ["lint", image, "--path", "switchboard", "--config", "buf.yaml"]);
  for (const dir of ["gen/switchboard", "gen/google", "gen/grpc"])
    rmSync(join(root, dir), { recursive: true, force: true });
  run(bin("buf"), [
    "generate",
    image,
    "--template",
    "buf.gen.yaml",
    "--path",
    "switchboard",
    "--path",
    "google/rpc/status.proto",
    "--path",
    "google/rpc/error_details.proto",
    "--path",
    "grpc",
  ]);
} finally {
  rmSync(work, { recursive: true, force: true });
}
