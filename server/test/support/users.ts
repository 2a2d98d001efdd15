import { randomUUID } from "node:crypto";
import { UserService } from "../../../gen/switchboard/v1/user_pb.js";
import { clientFor } from "./clients.ts";

/** Creates a user with a unique email on the server at `baseUrl` and returns its id. */
export async function newUserId(baseUrl: string, name = "Test"): Promise<string> {
  const { user } = await clientFor(UserService, baseUrl, "grpc").createUser({
    name,
    email: `${name.toLowerCase().replace(/[^a-z0-9]/g, "")}-${randomUUID()}@example.com`,
    age: 30,
  });
  if (!user) throw new Error("CreateUser returned no user");
  return user.id;
}
