import assert from "node:assert/strict";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { UserService } from "../../../gen/switchboard/v1/user_pb.js";
import { deadlineInterceptor } from "./deadline.ts";

const never = new Promise<never>(() => {});

// Handlers that ignore their signal: the worst case the interceptor must cover. The calls
// below are raw HTTP with a timeout header and no client-side timer, so only the server can
// end them on time.
let server: http.Server;
let baseUrl: string;
before(async () => {
  const handler = connectNodeAdapter({
    routes: (router) =>
      router.service(UserService, {
        getUser: () => never,
        async *listUsers() {
          yield { user: { id: "first" } };
          await never;
        },
      }),
    interceptors: [deadlineInterceptor()],
  });
  server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/switchboard.v1.UserService`;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

test("a unary call ends at its deadline although the handler never returns", { timeout: 5000 }, async () => {
  const res = await fetch(`${baseUrl}/GetUser`, {
    method: "POST",
    headers: { "content-type": "application/json", "connect-timeout-ms": "50" },
    body: "{}",
  });
  assert.equal(res.status, 504);
  assert.equal(((await res.json()) as { code: string }).code, "deadline_exceeded");
});

test("a server stream ends at its deadline while the handler is stuck between messages", {
  timeout: 5000,
}, async () => {
  const res = await fetch(`${baseUrl}/ListUsers`, {
    method: "POST",
    headers: { "content-type": "application/connect+json", "connect-timeout-ms": "50" },
    body: Buffer.concat([Buffer.from([0, 0, 0, 0, 2]), Buffer.from("{}")]),
  });
  const body = Buffer.from(await res.arrayBuffer());
  // Two enveloped messages: the user, then the end-of-stream carrying the error.
  const first = body.subarray(5, 5 + body.readUInt32BE(1)).toString();
  assert.match(first, /"first"/);
  const rest = body.subarray(5 + body.readUInt32BE(1));
  assert.equal(rest[0], 2, "end-of-stream flag");
  assert.match(rest.subarray(5).toString(), /deadline_exceeded/);
});
