import type { StoredEvent } from "../stores/event-store.ts";

export type EventListener = (event: StoredEvent) => void;

/**
 * Fan-out of committed events to every instance. A wake-up path only: the events table is
 * the source of truth, so a bus may drop or repeat messages and streams still lose nothing.
 */
export interface EventBus {
  /** Sends committed events to every subscriber of their topics, on every instance. */
  publish(events: readonly StoredEvent[]): Promise<void>;
  /** Calls `listener` for each event of `topic` until the returned function is called. */
  subscribe(topic: string, listener: EventListener): () => void;
  /** Subscriptions open on this instance (all topics): a gauge, and a leak check in tests. */
  subscriptionCount(): number;
  /**
   * Resolves when the bus carries events between instances right now; rejects when it does
   * not (streams then fall back to polling the table). Absent on a bus that cannot fail.
   */
  /**
   * Whether live events are flowing to this instance now. While they are, streams rely on the
   * bus and check the events table only as a rare safety net; while not, they poll it.
   */
  connected(): boolean;
  /** Calls `listener` whenever connected() may have changed, until the returned function is called. */
  onConnectionChange(listener: () => void): () => void;
  ping?(): Promise<void>;
  close(): Promise<void>;
}

/** Listener bookkeeping shared by the bus implementations. */
export class TopicListeners {
  readonly #byTopic = new Map<string, Set<EventListener>>();

  /** Adds a listener; `onFirst` runs when the topic gains its first one. */
  add(topic: string, listener: EventListener, onFirst?: (topic: string) => void): () => void {
    let set = this.#byTopic.get(topic);
    if (!set) {
      set = new Set();
      this.#byTopic.set(topic, set);
      onFirst?.(topic);
    }
    set.add(listener);
    return () => this.remove(topic, listener);
  }

  /** Removes a listener; returns true when the topic has none left. */
  remove(topic: string, listener: EventListener): boolean {
    const set = this.#byTopic.get(topic);
    if (!set?.delete(listener)) return false;
    if (set.size > 0) return false;
    this.#byTopic.delete(topic);
    return true;
  }

  dispatch(event: StoredEvent): void {
    const set = this.#byTopic.get(event.topic);
    if (!set) return;
    for (const listener of [...set]) listener(event);
  }

  topics(): string[] {
    return [...this.#byTopic.keys()];
  }

  count(): number {
    let n = 0;
    for (const set of this.#byTopic.values()) n += set.size;
    return n;
  }
}
