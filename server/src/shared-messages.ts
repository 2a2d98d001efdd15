/**
 * Messages shared by every call that answers with them, and serialized once per format. A
 * cache hit answers with the same row each time; its answer need not be rebuilt and encoded
 * for every call (for a small GetUser that was most of the protobuf work a call did). A shared
 * message is frozen, nested messages too, so a mutation anywhere throws instead of changing
 * other calls' answers.
 */
const shared = new WeakSet<object>();

/** Freezes `message` (and the messages in it) and marks it shared; returns it. */
export function shareMessage<T extends object>(message: T): T {
  freezeDeep(message);
  shared.add(message);
  return message;
}

function freezeDeep(value: object): void {
  if (Object.isFrozen(value)) return;
  Object.freeze(value);
  for (const field of Object.values(value)) {
    if (field !== null && typeof field === "object" && !(field instanceof Uint8Array)) freezeDeep(field);
  }
}

/**
 * A serializer that remembers the bytes of shared messages: the same bytes as `serialize`
 * gives, made once per message for this serializer (one per method and format).
 */
export function serializeShared<T extends object>(
  serialize: (message: T) => Uint8Array,
): (message: T) => Uint8Array {
  const bytesOf = new WeakMap<object, Uint8Array>();
  return (message) => {
    if (!shared.has(message)) return serialize(message);
    let bytes = bytesOf.get(message);
    if (!bytes) {
      bytes = serialize(message);
      bytesOf.set(message, bytes);
    }
    return bytes;
  };
}
