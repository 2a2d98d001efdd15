import assert from "node:assert/strict";
import { test } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { Serialization } from "@connectrpc/connect/protocol";
import {
  createAsyncIterable,
  pipe,
  transformCompressEnvelope,
  transformJoinEnvelopes,
  transformSerializeEnvelope,
} from "@connectrpc/connect/protocol";
import { compressionGzip } from "@connectrpc/connect-node";
import { type SubscribeResponse, SubscribeResponseSchema } from "../../gen/switchboard/v1/chat_pb.js";
import { responseBatcher } from "./response-batch.ts";

const response = (content: string, sequence: number): SubscribeResponse =>
  create(SubscribeResponseSchema, { message: { content, sequence: BigInt(sequence) } });

/** The method's binary serialization, counting its calls. */
function countingSerialization(): Serialization<SubscribeResponse> & { calls: number } {
  const s = {
    calls: 0,
    serialize(message: SubscribeResponse) {
      s.calls++;
      return toBinary(SubscribeResponseSchema, message);
    },
    parse: (bytes: Uint8Array) => fromBinary(SubscribeResponseSchema, bytes),
  };
  return s;
}

/** The response half of connect's pipeline as every protocol's handler builds it (patched). */
async function written(items: SubscribeResponse[], serialization: Serialization<SubscribeResponse>) {
  const chunks: Uint8Array[] = [];
  const body = pipe(
    createAsyncIterable(items),
    transformSerializeEnvelope(serialization),
    // Response compression on, from the first byte: a batch must still not be compressed whole.
    transformCompressEnvelope(compressionGzip, 0),
    transformJoinEnvelopes(),
  );
  for await (const chunk of body) chunks.push(chunk);
  return chunks;
}

/** The envelopes of one chunk: their flags, and their messages' content. */
function envelopes(chunk: Uint8Array): { flags: number; content: string; sequence: bigint }[] {
  const view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  const out = [];
  for (let at = 0; at < chunk.length; ) {
    const length = view.getUint32(at + 1);
    const { message } = fromBinary(SubscribeResponseSchema, chunk.subarray(at + 5, at + 5 + length));
    out.push({
      flags: view.getUint8(at),
      content: message?.content ?? "",
      sequence: message?.sequence ?? 0n,
    });
    at += 5 + length;
  }
  return out;
}

test("a batch is written as one chunk holding one uncompressed envelope per message, in order", async () => {
  const batch = responseBatcher(SubscribeResponseSchema);
  const messages = [response("a", 1), response("b".repeat(2000), 2), response("c", 3)];
  const chunks = await written([batch(messages)], countingSerialization());
  assert.equal(chunks.length, 1);
  assert.deepEqual(
    envelopes(chunks[0] as Uint8Array).map(({ flags, content, sequence }) => [
      flags,
      content.length,
      sequence,
    ]),
    [
      [0, 1, 1n],
      [0, 2000, 2n],
      [0, 1, 3n],
    ],
  );
});

test("a message is serialized once however many batches (streams) carry it, once per wire format", async () => {
  const batch = responseBatcher(SubscribeResponseSchema);
  const shared = [response("one", 1), response("two", 2)];
  const binary = countingSerialization();
  // A thousand subscribers on one instance: each stream writes its own batch of the same messages.
  const chunks = await written(
    Array.from({ length: 1000 }, () => batch(shared)),
    binary,
  );
  assert.equal(chunks.length, 1000);
  assert.equal(binary.calls, 2);
  assert.deepEqual(chunks[0], chunks[999]);
  // Another format (JSON, or another method's serializer) encodes for itself.
  const other = countingSerialization();
  await written([batch(shared)], other);
  assert.equal(other.calls, 2);
});

test("a batcher for messages sent once (shared: false) keeps no bytes and encodes each time", async () => {
  const batch = responseBatcher(SubscribeResponseSchema, { shared: false });
  const page = [response("one", 1), response("two", 2)];
  const binary = countingSerialization();
  const chunks = await written([batch(page), batch(page)], binary);
  assert.equal(binary.calls, 4);
  assert.deepEqual(chunks[0], chunks[1]);
});

test("a batch of one is a batch too, and a plain message still goes out on its own", async () => {
  const batch = responseBatcher(SubscribeResponseSchema);
  const one = response("solo", 7);
  const serialization = countingSerialization();
  const [fromBatch, plain] = await written([batch([one]), one], serialization);
  assert.deepEqual(envelopes(fromBatch as Uint8Array), [{ flags: 0, content: "solo", sequence: 7n }]);
  // The plain message takes the ordinary path: serialized again, and compressed as negotiated.
  assert.equal(serialization.calls, 2);
  assert.equal(plain?.[0], 1, "compressed flag");
});

test("without the dependency patch a batch fails loudly instead of going out as an empty message", () => {
  const batch = responseBatcher(SubscribeResponseSchema)([response("a", 1), response("b", 2)]);
  assert.throws(() => toBinary(SubscribeResponseSchema, batch), /patch-dependencies/);
});
