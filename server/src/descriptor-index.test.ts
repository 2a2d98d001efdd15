// The lookups behind server reflection, on the real embedded descriptors.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { UserService } from "../../gen/switchboard/v1/user_pb.js";
import { createDescriptorIndex } from "./descriptor-index.ts";

const index = createDescriptorIndex([UserService, Health]);
const fileOf = (symbol: string) => index.findFileContainingSymbol(symbol)?.proto.name;

describe("descriptor index", () => {
  test("lists the services it was given, in order", () => {
    assert.deepEqual(index.serviceNames, ["switchboard.v1.UserService", "grpc.health.v1.Health"]);
  });

  test("finds the file of every kind of symbol", () => {
    const user = "switchboard/v1/user.proto";
    assert.equal(fileOf("switchboard.v1.UserService"), user);
    assert.equal(fileOf("switchboard.v1.UserService.CreateUser"), user);
    assert.equal(fileOf("switchboard.v1.User"), user);
    assert.equal(fileOf("switchboard.v1.User.email"), user);
    assert.equal(fileOf("switchboard.v1.UserStreamRequest.operation"), user);
    assert.equal(fileOf("google.protobuf.Timestamp"), "google/protobuf/timestamp.proto");
    assert.equal(fileOf("buf.validate.field"), "buf/validate/validate.proto");
    // A nested enum, and one of its values (scoped beside the enum, not inside it).
    assert.equal(fileOf("grpc.health.v1.HealthCheckResponse.ServingStatus"), "grpc/health/v1/health.proto");
    assert.equal(fileOf("grpc.health.v1.HealthCheckResponse.SERVING"), "grpc/health/v1/health.proto");
  });

  test("knows nothing it was not given", () => {
    assert.equal(fileOf("switchboard.v1.Nope"), undefined);
    assert.equal(fileOf("switchboard.v1.User.nope"), undefined);
    assert.equal(fileOf("switchboard.v1.UserService.Nope"), undefined);
    assert.equal(fileOf("grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING"), undefined);
    assert.equal(fileOf(""), undefined);
    // order.proto is generated but not among the services given.
    assert.equal(fileOf("switchboard.v1.OrderService"), undefined);
    assert.equal(index.findFile("switchboard/v1/order.proto"), undefined);
  });

  test("finds extensions by extendee and number", () => {
    assert.equal(
      index.findFileContainingExtension("google.protobuf.FieldOptions", 1159)?.proto.name,
      "buf/validate/validate.proto",
    );
    assert.equal(index.findFileContainingExtension("google.protobuf.FieldOptions", 9999), undefined);
    assert.equal(index.findFileContainingExtension("no.Such", 1159), undefined);
    assert.ok(index.extensionNumbersOf("google.protobuf.FieldOptions")?.includes(1159));
    assert.deepEqual(index.extensionNumbersOf("google.protobuf.MessageOptions"), [1159]);
    assert.deepEqual(index.extensionNumbersOf("switchboard.v1.User"), []);
    assert.equal(index.extensionNumbersOf("no.Such"), undefined);
  });

  test("withImports puts the file first and every import before its importers", () => {
    const user = index.findFile("switchboard/v1/user.proto");
    assert.ok(user);
    const names = index.withImports(user).map((f) => f.proto.name);
    assert.equal(names[0], "switchboard/v1/user.proto");
    assert.equal(new Set(names).size, names.length);
    for (const file of index.withImports(user).slice(1)) {
      for (const dep of file.proto.dependency) {
        assert.ok(names.indexOf(dep) >= 1 && names.indexOf(dep) < names.indexOf(file.proto.name), dep);
      }
    }
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
  });
});
