import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Role, type User, UserSchema } from "../../../gen/switchboard/v1/user_pb.js";
import type { UserRow } from "../db/schema.ts";

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

export function roleToMessage(role: UserRow["role"]): Role {
  return role === "admin" ? Role.ADMIN : Role.USER;
}

/** The stored role for a wire role; UNSPECIFIED means the default, a user. */
export function roleFromMessage(role: Role): UserRow["role"] {
  return role === Role.ADMIN ? "admin" : "user";
}
