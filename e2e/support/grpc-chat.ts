// A native gRPC chat member, as a grpc-js user with no generated code has it: the schema read
// at run time from the compiled contract (proto field names, int64 as a string).
import { readFileSync } from "node:fs";
import * as grpc from "@grpc/grpc-js";
import { loadFileDescriptorSetFromBuffer } from "@grpc/proto-loader";
import { adminToken } from "./fixtures.ts";

const chat = loadFileDescriptorSetFromBuffer(
  readFileSync(new URL("../../gen/switchboard.binpb", import.meta.url)),
  {
    longs: String,
    defaults: true,
  },
)["switchboard.v1.ChatService"] as grpc.ServiceDefinition;
const chatMethod = chat.Chat as grpc.MethodDefinition<object, ChatResponse>;

interface ChatResponse {
  message: { id: string; room: string; user_id: string; content: string; sequence: string };
}

/**
 * Posts `content` to `room` over the Chat bidi stream (gRPC over HTTP/2) and resolves once the
 * stream has sent it back, i.e. once the server has stored and published it. It calls with
 * the admin token (or `token`) in the `authorization` metadata.
 */
export async function postOverGrpcJsBidi(
  url: string,
  message: { room: string; user_id: string; content: string },
  token = adminToken,
): Promise<void> {
  const client = new grpc.Client(new URL(url).host, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  metadata.set("authorization", `Bearer ${token}`);
  const call = client.makeBidiStreamRequest(
    chatMethod.path,
    chatMethod.requestSerialize,
    chatMethod.responseDeserialize,
    metadata,
    { deadline: Date.now() + 30_000 },
  );
  try {
    await new Promise<void>((resolve, reject) => {
      call.on("data", (res: ChatResponse) => {
        if (res.message.content === message.content) resolve();
      });
      call.on("error", reject);
      call.on("status", (status: grpc.StatusObject) =>
        reject(new Error(`Chat ended before the echo: ${status.code} ${status.details}`)),
      );
      call.write(message);
    });
  } finally {
    call.end();
    client.close();
  }
}
