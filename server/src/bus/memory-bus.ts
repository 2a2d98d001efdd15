import { type EventBus, TopicListeners } from "./event-bus.ts";

/** The bus of a single instance (REDIS_URL unset): events go straight to local listeners. */
export function createMemoryBus(): EventBus {
  const listeners = new TopicListeners();
  return {
    async publish(events) {
      const publishedAt = Date.now();
      for (const event of events) listeners.dispatch({ ...event, publishedAt });
    },
    subscribe: (topic, listener) => listeners.add(topic, listener),
    subscriptionCount: () => listeners.count(),
    connected: () => true,
    onConnectionChange: () => () => {},
    async close() {},
  };
}
