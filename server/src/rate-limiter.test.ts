import assert from "node:assert/strict";
import { test } from "node:test";
import { createRateLimiter } from "./rate-limiter.ts";

function clock() {
  let t = 0;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

test("a key spends its burst, then waits for tokens at the refill rate", () => {
  const c = clock();
  const limiter = createRateLimiter({ perSecond: 10, burst: 3, now: c.now });
  try {
    assert.deepEqual(
      [1, 2, 3].map(() => limiter.take("a")),
      [0, 0, 0],
    );
    assert.equal(limiter.take("a"), 100, "one token comes back every 100 ms");
    c.advance(60);
    assert.equal(limiter.take("a"), 40);
    c.advance(40);
    assert.equal(limiter.take("a"), 0);
    assert.equal(limiter.take("b"), 0, "keys are independent");
  } finally {
    limiter.close();
  }
});

test("a bucket never holds more than its burst, however long it rests", () => {
  const c = clock();
  const limiter = createRateLimiter({ perSecond: 1000, burst: 2, now: c.now });
  try {
    limiter.take("a");
    c.advance(60_000);
    assert.deepEqual([limiter.take("a"), limiter.take("a")], [0, 0]);
    assert.ok(limiter.take("a") > 0);
  } finally {
    limiter.close();
  }
});

test("memory is bounded: full buckets are forgotten and at most maxKeys are held", () => {
  const c = clock();
  const limiter = createRateLimiter({ perSecond: 1, burst: 5, maxKeys: 100, now: c.now });
  try {
    for (let i = 0; i < 1000; i++) limiter.take(`k${i}`);
    assert.ok(limiter.size <= 100, `held ${limiter.size} keys`);
    // The newest key was kept, and it is still limited as it should be.
    for (let i = 0; i < 4; i++) assert.equal(limiter.take("k999"), 0);
    assert.ok(limiter.take("k999") > 0);
  } finally {
    limiter.close();
  }
});
