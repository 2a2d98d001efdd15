// Server reflection on the real server, both versions, over gRPC and Connect, and through the
// real `buf curl`, which must reach UserService with no local copy of the protos.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { create, createFileRegistry, fromBinary, type MessageInitShape } from "@bufbuild/protobuf";
import {
  type FileDescriptorProto,
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
} from "@bufbuild/protobuf/wkt";
import { createConnectRouter } from "@connectrpc/connect";
import * as v1 from "../../../gen/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "../../../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { UserService } from "../../../gen/switchboard/v1/user_pb.js";
import { testAdminToken } from "../../test/support/auth.ts";
import { clientFor, collect, type ProtocolName, streamOf } from "../../test/support/clients.ts";
import { startTestServer, type TestServer } from "../../test/support/test-server.ts";
import { routes } from "../routes.ts";

/** Requests as plain objects (no $typeName), so the same ones serve both versions. */
type RequestInit = Omit<MessageInitShape<typeof v1.ServerReflectionRequestSchema>, "$typeName">;
type Response = v1.ServerReflectionResponse | v1alpha.ServerReflectionResponse;
/** Sends `requests` on one reflection stream and collects the answers. */
type Reflect = (requests: RequestInit[]) => Promise<Response[]>;

const buf = fileURLToPath(new URL("../../../node_modules/.bin/buf", import.meta.url));
const run = promisify(execFile);

let server: TestServer;
/** What routes.ts registers, read from a router of our own: the list reflection must match. */
let registered: { services: string[]; methods: string[] };

before(async () => {
  server = await startTestServer();
  const router = createConnectRouter();
  routes(server.ctx)(router);
  registered = {
    services: [...new Set(router.handlers.map((h) => h.service.typeName))],
    methods: router.handlers.map((h) => `${h.service.typeName}/${h.method.name}`),
  };
});
after(() => server.close());

const versions: [string, (protocol: ProtocolName) => Reflect][] = [
  [
    "v1",
    (p) => (reqs) =>
      collect(clientFor(v1.ServerReflection, server.url, p).serverReflectionInfo(streamOf(reqs))),
  ],
  [
    "v1alpha",
    (p) => (reqs) =>
      collect(
        clientFor(v1alpha.ServerReflection, server.url, p).serverReflectionInfo(
          // The tests write plain init objects, which fit v1alpha as they are: same fields.
          streamOf(reqs as MessageInitShape<typeof v1alpha.ServerReflectionRequestSchema>[]),
        ),
      ),
  ],
];
// Bidi streaming needs HTTP/2: gRPC, as reflection clients use, and Connect over h2c.
const protocols: ProtocolName[] = ["grpc", "connect-binary-h2c"];

/** The descriptors of a file_descriptor_response, or a failure naming what came instead. */
function filesOf(res: Response | undefined): FileDescriptorProto[] {
  const r = res?.messageResponse;
  if (r?.case !== "fileDescriptorResponse") assert.fail(`expected files, got ${r?.case}`);
  return r.value.fileDescriptorProto.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes));
}

/** Every import of every file is among the files: a client can build them all with nothing else. */
function assertClosed(files: FileDescriptorProto[]): void {
  const names = new Set(files.map((f) => f.name));
  assert.equal(names.size, files.length, "no file twice");
  for (const file of files) {
    for (const dep of file.dependency) assert.ok(names.has(dep), `${file.name} imports ${dep}, not sent`);
  }
}

function errorOf(res: Response | undefined): { errorCode: number; errorMessage: string } {
  const r = res?.messageResponse;
  if (r?.case !== "errorResponse") assert.fail(`expected an error, got ${r?.case}`);
  return r.value;
}

for (const [version, reflectOver] of versions) {
  for (const protocol of protocols) {
    describe(`reflection ${version} over ${protocol}`, () => {
      const reflect: Reflect = (reqs) => reflectOver(protocol)(reqs);

      test("list_services lists every service the router registers", async () => {
        const [res] = await reflect([{ host: "h", messageRequest: { case: "listServices", value: "" } }]);
        const r = res?.messageResponse;
        if (r?.case !== "listServicesResponse") assert.fail(`got ${r?.case}`);
        assert.deepEqual(
          r.value.service.map((s) => s.name),
          registered.services,
        );
        for (const name of [
          "switchboard.v1.UserService",
          "grpc.health.v1.Health",
          "grpc.reflection.v1.ServerReflection",
          "grpc.reflection.v1alpha.ServerReflection",
        ]) {
          assert.ok(registered.services.includes(name), name);
        }
        // The request is echoed, as gRPC's reflection does.
        assert.equal(res?.validHost, "h");
        assert.equal(res?.originalRequest?.messageRequest.case, "listServices");
      });

      test("file_containing_symbol returns user.proto with its whole import closure", async () => {
        const [res] = await reflect([
          { messageRequest: { case: "fileContainingSymbol", value: "switchboard.v1.UserService" } },
        ]);
        const files = filesOf(res);
        assert.equal(files[0]?.name, "switchboard/v1/user.proto");
        assertClosed(files);
        const names = files.map((f) => f.name);
        for (const name of [
          "buf/validate/validate.proto",
          "google/protobuf/descriptor.proto",
          "google/protobuf/timestamp.proto",
          "google/protobuf/field_mask.proto",
          "google/rpc/status.proto",
          "google/protobuf/any.proto",
        ]) {
          assert.ok(names.includes(name), name);
        }
        // What a client rebuilds from the answer is the service the server runs.
        const registry = registryOf(files);
        assert.deepEqual(
          registry.getService("switchboard.v1.UserService")?.methods.map((m) => m.name),
          UserService.methods.map((m) => m.name),
        );
      });

      test("every registered service's file can be fetched and rebuilt", async () => {
        const answers = await reflect(
          registered.services.map((name) => ({
            messageRequest: { case: "fileContainingSymbol", value: name },
          })),
        );
        assert.equal(answers.length, registered.services.length);
        answers.forEach((res, i) => {
          const files = filesOf(res);
          assertClosed(files);
          const registry = registryOf(files);
          assert.ok(registry.getService(registered.services[i] ?? ""), registered.services[i]);
        });
      });

      test("file_containing_symbol finds methods and fields too", async () => {
        const answers = await reflect([
          {
            messageRequest: { case: "fileContainingSymbol", value: "switchboard.v1.UserService.CreateUser" },
          },
          { messageRequest: { case: "fileContainingSymbol", value: "switchboard.v1.User.email" } },
          { messageRequest: { case: "fileContainingSymbol", value: "google.protobuf.Timestamp" } },
        ]);
        assert.equal(filesOf(answers[0])[0]?.name, "switchboard/v1/user.proto");
        assert.equal(filesOf(answers[1])[0]?.name, "switchboard/v1/user.proto");
        assert.deepEqual(
          filesOf(answers[2]).map((f) => f.name),
          ["google/protobuf/timestamp.proto"],
        );
      });

      test("file_by_filename returns the file first, then its imports", async () => {
        const [res] = await reflect([
          { messageRequest: { case: "fileByFilename", value: "switchboard/v1/user.proto" } },
        ]);
        const files = filesOf(res);
        assert.equal(files[0]?.name, "switchboard/v1/user.proto");
        assert.equal(files[0]?.package, "switchboard.v1");
        assertClosed(files);
      });

      test("an unknown name is NOT_FOUND in the stream, and the stream goes on", async () => {
        const answers = await reflect([
          { messageRequest: { case: "fileContainingSymbol", value: "switchboard.v1.NoSuchThing" } },
          { messageRequest: { case: "fileByFilename", value: "no/such/file.proto" } },
          {
            messageRequest: {
              case: "fileContainingExtension",
              value: { containingType: "google.protobuf.FieldOptions", extensionNumber: 99999 },
            },
          },
          { messageRequest: { case: "allExtensionNumbersOfType", value: "no.such.Type" } },
          { messageRequest: { case: "fileContainingSymbol", value: "switchboard.v1.User" } },
        ]);
        assert.equal(answers.length, 5);
        for (const res of answers.slice(0, 4)) assert.equal(errorOf(res).errorCode, 5);
        assert.match(errorOf(answers[0]).errorMessage, /switchboard\.v1\.NoSuchThing/);
        assert.equal(filesOf(answers[4])[0]?.name, "switchboard/v1/user.proto");
      });

      test("extensions: buf.validate's field rules are extension 1159 of FieldOptions", async () => {
        const answers = await reflect([
          { messageRequest: { case: "allExtensionNumbersOfType", value: "google.protobuf.FieldOptions" } },
          {
            messageRequest: {
              case: "fileContainingExtension",
              value: { containingType: "google.protobuf.FieldOptions", extensionNumber: 1159 },
            },
          },
          { messageRequest: { case: "allExtensionNumbersOfType", value: "buf.validate.FieldRules" } },
        ]);
        const numbers = answers[0]?.messageResponse;
        if (numbers?.case !== "allExtensionNumbersResponse") assert.fail(`got ${numbers?.case}`);
        assert.equal(numbers.value.baseTypeName, "google.protobuf.FieldOptions");
        assert.ok(numbers.value.extensionNumber.includes(1159));
        const files = filesOf(answers[1]);
        assert.equal(files[0]?.name, "buf/validate/validate.proto");
        assertClosed(files);
        // A known message with no extensions is an empty list, not an error.
        assert.equal(answers[2]?.messageResponse.case, "allExtensionNumbersResponse");
      });

      test("a request with nothing asked is INVALID_ARGUMENT in the stream", async () => {
        const answers = await reflect([{}, { messageRequest: { case: "listServices", value: "" } }]);
        assert.equal(errorOf(answers[0]).errorCode, 3);
        assert.equal(answers[1]?.messageResponse.case, "listServicesResponse");
      });
    });
  }
}

/**
 * What a client rebuilds from a reflection answer. The files are put in import order first:
 * createFileRegistry(file, resolve) of @bufbuild/protobuf 2.17 mis-orders a file imported both
 * directly and through another import (auth.proto -> validate.proto and user.proto -> validate.proto).
 */
function registryOf(files: FileDescriptorProto[]) {
  const byName = new Map(files.map((f) => [f.name, f]));
  const sorted: FileDescriptorProto[] = [];
  const seen = new Set<string>();
  const visit = (f: FileDescriptorProto) => {
    if (seen.has(f.name)) return;
    seen.add(f.name);
    for (const dep of f.dependency) {
      const d = byName.get(dep);
      if (d) visit(d);
    }
    sorted.push(f);
  };
  files.forEach(visit);
  return createFileRegistry(create(FileDescriptorSetSchema, { file: sorted }));
}

describe("buf curl through reflection", () => {
  const curl = async (...args: string[]) => {
    const { stdout } = await run(buf, ["curl", "--http2-prior-knowledge", "--protocol", "grpc", ...args], {
      timeout: 30_000,
    });
    return stdout;
  };

  test("--list-methods lists every registered method", async () => {
    const out = await curl("--list-methods", server.url);
    assert.deepEqual(out.trim().split("\n").sort(), [...registered.methods].sort());
  });

  for (const reflectProtocol of ["grpc-v1", "grpc-v1alpha"]) {
    test(`CreateUser with no --schema (${reflectProtocol})`, async () => {
      const email = `${reflectProtocol}@b.co`;
      const out = await curl(
        "-H",
        `Authorization: Bearer ${testAdminToken}`,
        "--reflect-protocol",
        reflectProtocol,
        "-d",
        JSON.stringify({ name: "A", email, age: 3 }),
        `${server.url}/switchboard.v1.UserService/CreateUser`,
      );
      const { user } = JSON.parse(out) as { user: { id: string; email: string; age: number } };
      assert.equal(user.email, email);
      assert.equal(user.age, 3);
      assert.match(user.id, /^[0-9a-f-]{36}$/);
    });
  }
});
