// Reference: a Fastify route answering the Connect JSON unary GetUser for the bench user over
// HTTP/1.1, doing the same lookup as a Switchboard cache hit: parse the JSON body, check the
// bearer token, look the user up in an in-memory Map, and answer the same JSON Switchboard
// answered (the object is kept parsed; Fastify serializes it per call).
//
//   BENCH_TOKEN=… BENCH_USER_JSON=<base64> PORT=… node bench/reference/fastify-server.ts
import Fastify from "fastify";
import { announce, expectedAuthorization, portFromEnv, tally, userResponseJson } from "./shared.ts";

interface GetUserJson {
  user: { id: string };
}
const response = JSON.parse(userResponseJson()) as GetUserJson;
const users = new Map<string, GetUserJson>([[response.user.id, response]]);

const app = Fastify({ logger: false });
app.post<{ Body: { id?: string } }>("/switchboard.v1.UserService/GetUser", async (req, reply) => {
  if (req.headers.authorization !== expectedAuthorization) {
    tally.failed++;
    reply.code(401);
    return { code: "unauthenticated", message: "bad token" };
  }
  const found = users.get(req.body?.id ?? "");
  if (!found) {
    tally.failed++;
    reply.code(404);
    return { code: "not_found", message: `user ${req.body?.id} not found` };
  }
  tally.ok++;
  return found;
});
await app.listen({ port: portFromEnv(), host: "127.0.0.1" });
const address = app.server.address();
await announce(typeof address === "object" && address ? address.port : 0);
