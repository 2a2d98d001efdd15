/**
 * Token buckets by key (a user id, an address). Each key may spend `burst` at once and earns
 * `perSecond` back; a key whose bucket is full again is forgotten, and at most `maxKeys`
 * are held, so a flood of distinct keys cannot grow memory without bound.
 */
export interface RateLimiter {
  /** Spends one token: 0 when allowed, else the milliseconds until one is available. */
  take(key: string): number;
  readonly size: number;
  close(): void;
}

interface Bucket {
  tokens: number;
  at: number;
}

export function createRateLimiter(opts: {
  perSecond: number;
  burst: number;
  maxKeys?: number;
  now?: () => number;
}): RateLimiter {
  const { perSecond, burst } = opts;
  const maxKeys = opts.maxKeys ?? 100_000;
  const now = opts.now ?? (() => performance.now());
  const buckets = new Map<string, Bucket>();
  const refill = (b: Bucket, t: number) => {
    b.tokens = Math.min(burst, b.tokens + ((t - b.at) / 1000) * perSecond);
    b.at = t;
  };
  const sweep = () => {
    const t = now();
    for (const [key, b] of buckets) {
      refill(b, t);
      if (b.tokens >= burst) buckets.delete(key);
    }
  };
  // A bucket refills completely in burst / perSecond seconds; forget full ones about that often.
  const timer = setInterval(sweep, Math.max(1000, (burst / perSecond) * 1000));
  timer.unref();
  return {
    take(key) {
      const t = now();
      let b = buckets.get(key);
      if (!b) {
        if (buckets.size >= maxKeys) {
          sweep();
          // Still full of busy keys: drop the oldest rather than grow.
          if (buckets.size >= maxKeys) buckets.delete(buckets.keys().next().value ?? "");
        }
        b = { tokens: burst, at: t };
        buckets.set(key, b);
      } else {
        refill(b, t);
      }
      if (b.tokens >= 1) {
        b.tokens -= 1;
        return 0;
      }
      return Math.ceil(((1 - b.tokens) / perSecond) * 1000);
    },
    get size() {
      return buckets.size;
    },
    close() {
      clearInterval(timer);
    },
  };
}
