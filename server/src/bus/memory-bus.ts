import type { StoredEvent } from "../stores/event-store.ts";
import { type EventBus, TopicListeners } from "./event-bus.ts";

/**
 * The bus of a single instance (REDIS_URL unset): events go straight to local listeners.
 *
 * Events published during one turn of the event loop are handed over together, at its end
 * (setImmediate), and publish() resolves once they have been: a live stream then wakes once
 * for all of them and writes them as one batch, as it does with Redis, whose socket delivers
 * what arrived together in one read. Handed over at once instead, each post woke every stream
 * of its room by itself (measured: 1,000 subscribers, 200 posts a second, 146 µs of CPU per
 * delivery, and the posts themselves waited behind the writes).
 */
export function createMemoryBus(): EventBus {
  const listeners = new TopicListeners();
  let pending: StoredEvent[] = [];
  let flushed: Promise<void> | undefined;
  const flush = () => {
    const events = pending;
    pending = [];
    flushed = undefined;
    for (const event of events) listeners.dispatch(event);
  };
  return {
    publish(events) {
      const publishedAt = Date.now();
      for (const event of events) pending.push({ ...event, publishedAt });
      flushed ??= new Promise<void>((resolve) =>
        setImmediate(() => {
          flush();
          resolve();
        }),
      );
      return flushed;
    },
    subscribe: (topic, listener) => listeners.add(topic, listener),
    subscriptionCount: () => listeners.count(),
    connected: () => true,
    onConnectionChange: () => () => {},
    async close() {},
  };
}
