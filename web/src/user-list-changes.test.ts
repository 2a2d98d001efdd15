import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { type User, UserSchema } from "../../gen/switchboard/v1/user_pb.js";
import { appendNew, type LocalChanges, matches, withChanges } from "./user-list-changes.ts";

const user = (id: string, name = `User ${id}`, email = `${id}@example.com`): User =>
  create(UserSchema, { id, name, email, age: 30 });
const ids = (list: User[]) => list.map((u) => u.id);

test("a user created while the list loads survives the first rows, read before it existed", () => {
  const created = user("c", "Carol");
  const changes: LocalChanges = new Map([["c", created]]);
  const firstRows = [user("a"), user("b")];
  assert.deepEqual(ids(withChanges(firstRows, changes, "")), ["a", "b", "c"]);
  // Once the stream reaches it, it is listed once.
  const later = appendNew(withChanges(firstRows, changes, ""), [user("c", "Carol")]);
  assert.deepEqual(ids(withChanges(later, changes, "")), ["a", "b", "c"]);
});

test("a user deleted while the list loads stays deleted when the stream still sends it", () => {
  const changes: LocalChanges = new Map([["b", null]]);
  const list = withChanges(appendNew([user("a")], [user("b"), user("c")]), changes, "");
  assert.deepEqual(ids(list), ["a", "c"]);
});

test("an edit made while the list loads wins over the row the stream read before it", () => {
  const edited = user("a", "Ada Lovelace");
  const list = withChanges([user("a", "Ada"), user("b")], new Map([["a", edited]]), "");
  assert.equal(list[0], edited);
  assert.deepEqual(ids(list), ["a", "b"]);
});

test("a created user the search does not find is not added to the search's results", () => {
  const changes: LocalChanges = new Map([["z", user("z", "Zed", "zed@example.com")]]);
  assert.deepEqual(ids(withChanges([user("g", "Grace")], changes, "grace")), ["g"]);
  assert.deepEqual(ids(withChanges([user("g", "Grace")], changes, "ZED")), ["g", "z"]);
});

test("without changes the list is returned as it is", () => {
  const list = [user("a")];
  assert.equal(withChanges(list, new Map(), ""), list);
  assert.ok(matches(user("a", "Ada", "ada@example.com"), "EXAMPLE"));
});
