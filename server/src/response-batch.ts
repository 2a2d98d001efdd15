import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
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
  // Without the patch, connect-node would serialize a batch as a message of `schema` with no
  // fields set: reading any of them throws instead, so the call fails loudly.
  const unpatched = Object.create(null) as object;
  for (const field of schema.fields) {
    Object.defineProperty(unpatched, field.localName, {
      get() {
        throw new Error("a response batch needs the connect patch of scripts/patch-dependencies.ts");
      },
    });
  }
  return (messages) => {
    const batch = Object.create(unpatched) as Record<string | symbol, unknown>;
    batch.$typeName = schema.typeName;
    batch[encodeEnvelopesKey] = (serialization: Serialization<unknown>): Uint8Array => {
      const parts = messages.map((m) => serialize(serialization, m));
      let length = 0;
      for (const part of parts) length += 5 + part.length;
      const out = new Uint8Array(length);
      const view = new DataView(out.buffer);
      let at = 0;
      for (const part of parts) {
        // An envelope: flags 0 (not compressed), then the length, big-endian.
        view.setUint32(at + 1, part.length);
        out.set(part, at + 5);
        at += 5 + part.length;
      }
      return out;
    };
    return batch as unknown as MessageShape<Desc>;
  };
}
