/**
 * At most `limit` pieces of work at once; the rest wait their turn in order. Live streams read
 * the events table through one (routes.ts), so a storm of streams opening at once takes only
 * part of the database pool and unary calls keep getting connections.
 */
export type Gate = <T>(work: () => Promise<T>) => Promise<T>;

export function createGate(limit: number): Gate {
  let running = 0;
  const waiting: (() => void)[] = [];
  const release = () => {
    running--;
    waiting.shift()?.();
  };
  return async (work) => {
    if (running >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    running++;
    try {
      return await work();
    } finally {
      release();
    }
  };
}
