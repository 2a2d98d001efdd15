import { create, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import type { Serialization } from "@connectrpc/connect/protocol";

/**
 * The key under which a batch carries its encoder; connect-node's response pipeline looks for
 * it (the patch "a response batch is written as one chunk" in scripts/patch-dependencies.ts).
 */
export const encodeEnvelopesKey = Symbol.for("switchboard.encodeEnvelopes");

/** Yielded by a streaming handler: several response messages, written to the client at once. */
export type ResponseBatcher<Desc extends DescMessage> = (
  messages: readonly MessageShape<Desc>[],
) => MessageShape<Desc>;

/**
 * Makes batches of a method's response messages. A stream handler yields a batch where it
 * would yield its messages one by one; the client receives the same messages, each in its own
 * envelope, in one write. What a batch saves is everything connect-node and the interceptors
 * do per yielded item (about twenty async steps, and a write): a live stream that falls
 * behind catches up in a few writes instead of sinking under one write per message.
 *
 * The messages are serialized once per message object and wire format, however many streams
 * write them: a room's live event reaches every subscriber on an instance as the same message
 * (decoded-once.ts). So they must never change once batched. A batch skips response
 * compression (each envelope says so in its flags, as the protocols allow).
 *
 * A batch of one is still a batch, so that its message too is serialized once for every stream.
 */
export function responseBatcher<Desc extends DescMessage>(
  schema: Desc,
  options: {
    /**
     * Remember each message's bytes for the next stream that writes it (default). Off for
     * messages only one stream ever sends (a page of ListUsers): nothing to share, and a
     * hundred thousand weak entries would only keep their bytes alive until a full GC.
     */
    shared?: boolean;
  } = {},
): ResponseBatcher<Desc> {
  const shared = options.shared ?? true;
  // Per message object: the serialization it was encoded with (binary or JSON) and the bytes.
  const encoded = new WeakMap<object, { serialization: object; bytes: Uint8Array }>();
  const serialize = (serialization: Serialization<unknown>, message: MessageShape<Desc>) => {
    if (!shared) return serialization.serialize(message);
    const hit = encoded.get(message);
    if (hit?.serialization === serialization) return hit.bytes;
    // The method's own serializer, so its size limit (MAX_MESSAGE_BYTES) applies to each message.
    const bytes = serialization.serialize(message);
    encoded.set(message, { serialization, bytes });
    return bytes;
  };
  const unpatched = unpatchedBatch(schema);
  return (messages) =>
    batchOf(schema, unpatched, (serialization) =>
      envelopes(messages.map((m) => serialize(serialization, m))),
    );
}

/**
 * Batches of items that are not messages yet (rows, say): in the binary format `encodeBinary`
 * writes their envelopes straight from the items; any other format (JSON) gets the messages
 * `toMessage` makes of them, serialized as a batch of messages is. `encodeBinary` must give
 * the bytes the method's binary serialization would, and keep to its size limit itself.
 */
export function itemBatcher<Desc extends DescMessage, Item>(
  schema: Desc,
  encodeBinary: (items: readonly Item[]) => Uint8Array,
  toMessage: (item: Item) => MessageShape<Desc>,
): (items: readonly Item[]) => MessageShape<Desc> {
  const unpatched = unpatchedBatch(schema);
  const empty = create(schema);
  // connect-node has one serialization object per method and format, so the answer is kept.
  const binary = new WeakMap<object, boolean>();
  const isBinary = (serialization: Serialization<unknown>) => {
    let answer = binary.get(serialization);
    if (answer === undefined) {
      // An empty message is no bytes in the binary format, "{}" in JSON.
      answer = serialization.serialize(empty).byteLength === 0;
      binary.set(serialization, answer);
    }
    return answer;
  };
  return (items) =>
    batchOf(schema, unpatched, (serialization) =>
      isBinary(serialization)
        ? encodeBinary(items)
        : envelopes(items.map((item) => serialization.serialize(toMessage(item)))),
    );
}

/**
 * What a batch looks like to code that reads it as a message of `schema`: without the patch,
 * connect-node would serialize it as a message with no fields set; reading any of them throws
 * instead, so the call fails loudly.
 */
function unpatchedBatch(schema: DescMessage): object {
  const unpatched = Object.create(null) as object;
  for (const field of schema.fields) {
    Object.defineProperty(unpatched, field.localName, {
      get() {
        throw new Error("a response batch needs the connect patch of scripts/patch-dependencies.ts");
      },
    });
  }
  return unpatched;
}

function batchOf<Desc extends DescMessage>(
  schema: Desc,
  unpatched: object,
  encode: (serialization: Serialization<unknown>) => Uint8Array,
): MessageShape<Desc> {
  const batch = Object.create(unpatched) as Record<string | symbol, unknown>;
  batch.$typeName = schema.typeName;
  batch[encodeEnvelopesKey] = encode;
  return batch as unknown as MessageShape<Desc>;
}

/** Serialized messages as consecutive envelopes: flags 0 (not compressed), the length, big-endian. */
function envelopes(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += 5 + part.length;
  const out = new Uint8Array(length);
  const view = new DataView(out.buffer);
  let at = 0;
  for (const part of parts) {
    view.setUint32(at + 1, part.length);
    out.set(part, at + 5);
    at += 5 + part.length;
  }
  return out;
}
