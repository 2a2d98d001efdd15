import assert from "node:assert/strict";
import { test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { GetUserResponseSchema, UserSchema } from "../../gen/switchboard/v1/user_pb.js";
import { serializeShared, shareMessage } from "./shared-messages.ts";

const answer = () =>
  create(GetUserResponseSchema, {
    user: create(UserSchema, {
      id: "u1",
      name: "Ada",
      createTime: timestampFromDate(new Date(0)),
      version: 3n,
    }),
  });

test("a shared message is serialized once per serializer, to the bytes serialize gives", () => {
  let calls = 0;
  const serialize = serializeShared((m: ReturnType<typeof answer>) => {
    calls++;
    return toBinary(GetUserResponseSchema, m);
  });
  const message = shareMessage(answer());
  const first = serialize(message);
  assert.equal(serialize(message), first, "the same bytes, not made again");
  assert.equal(calls, 1);
  assert.deepEqual(first, toBinary(GetUserResponseSchema, answer()));
  // Another serializer (another method or format) makes its own.
  serializeShared((m: ReturnType<typeof answer>) => toBinary(GetUserResponseSchema, m))(message);
  assert.equal(calls, 1);
});

test("a message that is not shared is serialized every time", () => {
  let calls = 0;
  const serialize = serializeShared((m: ReturnType<typeof answer>) => {
    calls++;
    return toBinary(GetUserResponseSchema, m);
  });
  const message = answer();
  serialize(message);
  serialize(message);
  assert.equal(calls, 2);
});

test("a shared message and the messages in it are frozen: changing one throws", () => {
  const message = shareMessage(answer());
  assert.throws(() => {
    (message as { user: unknown }).user = undefined;
  }, TypeError);
  assert.throws(() => {
    if (message.user) message.user.name = "Eve";
  }, TypeError);
  assert.throws(() => {
    if (message.user?.createTime) message.user.createTime.seconds = 1n;
  }, TypeError);
  assert.equal(message.user?.name, "Ada");
});
