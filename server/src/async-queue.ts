/**
 * A bounded queue between producers and one consumer: push() waits while the queue is full,
 * so a slow consumer slows its producers down (and their own limits apply) instead of the
 * queue growing. close() ends the consumer's iteration, with an error or cleanly.
 */
export class AsyncQueue<T> implements AsyncIterable<T> {
  readonly #items: T[] = [];
  readonly #capacity: number;
  #closed = false;
  #error: unknown;
  #wakeConsumer: (() => void) | undefined;
  readonly #wakeProducers: (() => void)[] = [];

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  async push(item: T): Promise<void> {
    while (this.#items.length >= this.#capacity && !this.#closed) {
      await new Promise<void>((resolve) => this.#wakeProducers.push(resolve));
    }
    if (this.#closed) return;
    this.#items.push(item);
    this.#wakeConsumer?.();
  }

  /** Ends iteration: after the queued items when `error` is undefined, at once otherwise. */
  close(error?: unknown): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#error = error;
    this.#wakeConsumer?.();
    for (const wake of this.#wakeProducers.splice(0)) wake();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    for (;;) {
      if (this.#error !== undefined) throw this.#error;
      const item = this.#items.shift();
      if (item !== undefined) {
        this.#wakeProducers.shift()?.();
        yield item;
        continue;
      }
      if (this.#closed) return;
      await new Promise<void>((resolve) => {
        this.#wakeConsumer = resolve;
      });
      this.#wakeConsumer = undefined;
    }
  }
}
