import assert from "node:assert/strict";
import { test } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { ListUsersResponseSchema } from "../../../gen/switchboard/v1/user_pb.js";
import type { UserListRow } from "../stores/user-store.ts";
import { encodeListUsersEnvelopes } from "./user-list-wire.ts";
import { userListRowToMessage } from "./user-messages.ts";

const base: UserListRow = {
  id: "01890a5d-ac96-774b-bcce-b302099a8057",
  name: "Ada Lovelace",
  email: "ada@example.com",
  age: 36,
  createMs: 1_763_762_512_345,
  updateMs: 1_763_762_600_000,
  version: "3",
  role: "user",
};

/** What protobuf-es writes for the same rows, as envelopes. */
function reference(rows: readonly UserListRow[]): Buffer {
  return Buffer.concat(
    rows.map((row) => {
      const bytes = toBinary(
        ListUsersResponseSchema,
        create(ListUsersResponseSchema, { user: userListRowToMessage(row) }),
      );
      const head = Buffer.alloc(5);
      head.writeUInt32BE(bytes.length, 1);
      return Buffer.concat([head, bytes]);
    }),
  );
}

const cases: [string, Partial<UserListRow>][] = [
  ["an ordinary user", {}],
  ["an admin", { role: "admin" }],
  [
    "multi-byte names and a long email",
    { name: "Ådá Łovelace 🚀 ".repeat(6), email: `${"e".repeat(240)}@x.example` },
  ],
  ["default values, left out as proto3 says", { name: "", email: "", age: 0, version: "0", createMs: 0 }],
  ["a User under 128 bytes (its length prefix is one byte)", { id: "", name: "A", email: "a@b.c" }],
  ["a User over 16 KiB (a three-byte length prefix)", { name: "n".repeat(20_000) }],
  ["timestamps before 1970", { createMs: -1500, updateMs: -86_400_000 * 365 }],
  ["whole seconds, and milliseconds only", { createMs: 1_700_000_000_000, updateMs: 7 }],
  ["an int64 version past 2^53", { version: "9007199254740993" }],
  ["a negative age (ten-byte varint)", { age: -1 }],
];

for (const [what, change] of cases) {
  test(`the bytes are protobuf-es's: ${what}`, () => {
    const row = { ...base, ...change };
    const bytes = encodeListUsersEnvelopes([row], 1 << 30);
    assert.deepEqual(Buffer.from(bytes), reference([row]));
    const decoded = fromBinary(ListUsersResponseSchema, bytes.subarray(5));
    assert.deepEqual(decoded.user, userListRowToMessage(row));
  });
}

test("a page is its rows' envelopes, one after another", () => {
  const rows = cases.map(([, change], i) => ({ ...base, ...change, id: `${i}` }));
  assert.deepEqual(Buffer.from(encodeListUsersEnvelopes(rows, 1 << 30)), reference(rows));
  assert.equal(encodeListUsersEnvelopes([], 1 << 30).byteLength, 0);
});

test("a message over writeMaxBytes is RESOURCE_EXHAUSTED, worded as connect-node words it", () => {
  const row = { ...base, name: "n".repeat(2000) };
  const size = reference([row]).length - 5;
  assert.equal(encodeListUsersEnvelopes([row], size).byteLength, size + 5);
  assert.throws(
    () => encodeListUsersEnvelopes([base, row], size - 1),
    (err: unknown) =>
      err instanceof ConnectError &&
      err.code === Code.ResourceExhausted &&
      err.rawMessage === `message size ${size} is larger than configured writeMaxBytes ${size - 1}`,
  );
});

test("an infinite timestamp (PostgreSQL's 'infinity') is an error, not a hang", () => {
  assert.throws(
    () => encodeListUsersEnvelopes([{ ...base, createMs: Number.POSITIVE_INFINITY }], 1 << 30),
    /cannot be encoded/,
  );
});
