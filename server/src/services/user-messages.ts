import { create } from "@bufbuild/protobuf";
import { timestampFromDate, timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  type GetUserResponse,
  GetUserResponseSchema,
  Role,
  type User,
  UserSchema,
} from "../../../gen/switchboard/v1/user_pb.js";
import type { UserRow } from "../db/schema.ts";
import { shareMessage } from "../shared-messages.ts";
import type { UserListRow } from "../stores/user-store.ts";

/** Maps a stored row to the wire message. */
export function userToMessage(row: UserRow): User {
  return create(UserSchema, {
    id: row.id,
    name: row.name,
    email: row.email,
    age: row.age,
    createTime: timestampFromDate(row.createTime),
    updateTime: timestampFromDate(row.updateTime),
    version: BigInt(row.version),
    role: roleToMessage(row.role),
  });
}

/** The message a ListUsers row stands for (user-list-wire.ts writes its bytes without it). */
export function userListRowToMessage(row: UserListRow): User {
  return create(UserSchema, {
    id: row.id,
    name: row.name,
    email: row.email,
    age: row.age,
    createTime: timestampFromMs(row.createMs),
    updateTime: timestampFromMs(row.updateMs),
    version: BigInt(row.version),
    role: roleToMessage(row.role),
  });
}

/**
 * GetUser's answer for a row, made once per row object and shared by every call that reads
 * the same cached row (shared-messages.ts: frozen, serialized once per format). A changed user
 * is a new row, so a new answer.
 */
export function createGetUserResponses(): (row: UserRow) => GetUserResponse {
  const answers = new WeakMap<UserRow, GetUserResponse>();
  return (row) => {
    let answer = answers.get(row);
    if (!answer) {
      answer = shareMessage(create(GetUserResponseSchema, { user: userToMessage(row) }));
      answers.set(row, answer);
    }
    return answer;
  };
}

export function roleToMessage(role: UserRow["role"]): Role {
  return role === "admin" ? Role.ADMIN : Role.USER;
}

/** The stored role for a wire role; UNSPECIFIED means the default, a user. */
export function roleFromMessage(role: Role): UserRow["role"] {
  return role === Role.ADMIN ? "admin" : "user";
}
