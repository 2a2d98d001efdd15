import type { StoredEvent } from "../stores/event-store.ts";

/**
 * Decodes an event's payload once per event object. A live event reaches every stream on
 * this instance as the same object (the bus decodes it once), so a room with a thousand
 * subscribers needs one decode, not a thousand. The message is shared between those
 * streams: nothing may change it (serializing it does not).
 */
export function decodedOnce<T extends object>(decode: (event: StoredEvent) => T): (event: StoredEvent) => T {
  const cache = new WeakMap<StoredEvent, T>();
  return (event) => {
    let message = cache.get(event);
    if (!message) {
      message = decode(event);
      cache.set(event, message);
    }
    return message;
  };
}
