import assert from "node:assert/strict";
import { test } from "node:test";
import { create, type DescMessage } from "@bufbuild/protobuf";
import { createValidator, type Validator } from "@bufbuild/protovalidate";
import { Code } from "@connectrpc/connect";
import { ChatService } from "../../gen/switchboard/v1/chat_pb.js";
import {
  CreateUserRequestSchema,
  UpdateUserRequestSchema,
  UserService,
} from "../../gen/switchboard/v1/user_pb.js";
import { createMessageChecker } from "./validation.ts";

/** protovalidate's validator, noting which message types it was asked about. */
function recordingValidator(): { validator: Validator; seen: Set<string> } {
  const real = createValidator();
  const seen = new Set<string>();
  const validator: Validator = {
    ...real,
    validate: (schema, message) => {
      seen.add(schema.typeName);
      return real.validate(schema, message);
    },
  };
  return { validator, seen };
}

test("warm() has protovalidate plan every request type and every message type inside one", () => {
  const { validator, seen } = recordingValidator();
  const check = createMessageChecker(validator);
  const inputs: DescMessage[] = [...UserService.methods, ...ChatService.methods].map((m) => m.input);
  check.warm(inputs);
  for (const input of inputs) assert.ok(seen.has(input.typeName), `${input.typeName} planned`);
  // Reached through fields: UpdateUserRequest.user, its timestamps, the update mask.
  for (const nested of ["switchboard.v1.User", "google.protobuf.Timestamp", "google.protobuf.FieldMask"]) {
    assert.ok(seen.has(nested), `${nested} planned`);
  }
});

test("verdicts after warm() are the same as without it", () => {
  const cold = createMessageChecker();
  const warm = createMessageChecker();
  warm.warm([CreateUserRequestSchema, UpdateUserRequestSchema]);
  const bad = create(CreateUserRequestSchema, { name: "", email: "nope", age: 0 });
  const good = create(CreateUserRequestSchema, { name: "Ada", email: "ada@example.com", age: 36 });
  for (const check of [cold, warm]) {
    assert.equal(check(CreateUserRequestSchema, good), undefined);
    const err = check(CreateUserRequestSchema, bad);
    assert.equal(err?.code, Code.InvalidArgument);
    assert.match(err?.rawMessage ?? "", /email/);
  }
  assert.equal(
    cold(CreateUserRequestSchema, bad)?.rawMessage,
    warm(CreateUserRequestSchema, bad)?.rawMessage,
  );
});
