import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { createValidator } from "@bufbuild/protovalidate";
import { SignInRequestSchema } from "../../gen/switchboard/v1/auth_pb.js";
import {
  BatchCreateUsersRequestSchema,
  CreateUserRequestSchema,
  GetUserRequestSchema,
  UserStreamRequestSchema,
} from "../../gen/switchboard/v1/user_pb.js";
import { compileQuickCheck } from "./quick-validation.ts";

const names = [
  "",
  "a",
  "Ada Lovelace",
  "x".repeat(100),
  "x".repeat(101),
  "😀".repeat(100),
  "😀".repeat(101),
  "\u0000",
];
const emails = [
  "",
  "a@b",
  "ada@example.com",
  "ADA@Example.COM",
  "a.b+c@sub.example.co",
  "no-at-sign",
  "two@@example.com",
  "@example.com",
  "a@",
  "a@-example.com",
  "a@example-.com",
  "a@ex ample.com",
  " a@example.com",
  "a@example.com\n",
  "é@example.com",
  `${"a".repeat(64)}@${"b".repeat(63)}.com`,
  `a@${"b".repeat(64)}.com`,
  `${"a".repeat(250)}@b.co`,
];
const ages = [-1, 0, 1, 150, 151, 2147483647, -2147483648];

test("the quick check agrees with protovalidate on every BatchCreateUsers item", () => {
  const quick = compileQuickCheck(BatchCreateUsersRequestSchema);
  assert.ok(quick, "BatchCreateUsersRequest has only simple rules");
  const validator = createValidator();
  for (const name of names) {
    for (const email of emails) {
      for (const age of ages) {
        const message = create(BatchCreateUsersRequestSchema, { name, email, age });
        const expected = validator.validate(BatchCreateUsersRequestSchema, message).kind === "valid";
        assert.equal(quick(message), expected, JSON.stringify({ name, email, age }));
      }
    }
  }
});

test("the quick check agrees with protovalidate on every SignIn request", () => {
  const quick = compileQuickCheck(SignInRequestSchema);
  assert.ok(quick, "SignInRequest has only simple rules");
  const validator = createValidator();
  for (const email of [...emails, ...names]) {
    for (const password of names) {
      const message = create(SignInRequestSchema, { email, password });
      const expected = validator.validate(SignInRequestSchema, message).kind === "valid";
      assert.equal(quick(message), expected, JSON.stringify({ email, password }));
    }
  }
});

test("the quick check agrees with protovalidate on every GetUser id", () => {
  const quick = compileQuickCheck(GetUserRequestSchema);
  assert.ok(quick, "GetUserRequest has only simple rules (string.uuid)");
  const validator = createValidator();
  const ids = [
    "",
    "01890000-0000-7000-8000-000000000000",
    "01890000-0000-7000-8000-00000000000A",
    "ABCDEF01-2345-6789-abcd-ef0123456789",
    "01890000000070008000000000000000",
    "01890000-0000-7000-8000-0000000000000",
    "01890000-0000-7000-8000-00000000000",
    "0189000-00000-7000-8000-000000000000",
    "g1890000-0000-7000-8000-000000000000",
    " 01890000-0000-7000-8000-000000000000",
    "01890000-0000-7000-8000-000000000000\n",
    "{01890000-0000-7000-8000-000000000000}",
    "x",
    ...names,
  ];
  for (const id of ids) {
    const message = create(GetUserRequestSchema, { id });
    const expected = validator.validate(GetUserRequestSchema, message).kind === "valid";
    assert.equal(quick(message), expected, JSON.stringify(id));
  }
});

test("the quick check agrees with protovalidate on every CreateUser request", () => {
  const quick = compileQuickCheck(CreateUserRequestSchema);
  assert.ok(quick, "CreateUserRequest has only simple rules (enum.defined_only among them)");
  const validator = createValidator();
  const passwords = ["", "short", "long enough", "p".repeat(128), "p".repeat(129)];
  // Defined roles, and numbers a client may send that name none (proto3 enums are open).
  const roles = [0, 1, 2, 3, 7, -1, 2147483647];
  for (const name of names) {
    for (const email of emails) {
      for (const age of ages) {
        for (const password of passwords) {
          for (const role of roles) {
            const message = create(CreateUserRequestSchema, { name, email, age, password, role });
            const expected = validator.validate(CreateUserRequestSchema, message).kind === "valid";
            assert.equal(quick(message), expected, JSON.stringify({ name, email, age, password, role }));
          }
        }
      }
    }
  }
});

test("messages with rules it does not know go to protovalidate", () => {
  // A oneof of messages.
  assert.equal(compileQuickCheck(UserStreamRequestSchema), undefined);
});
