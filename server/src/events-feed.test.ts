// The events path of design §4 against a real database: concurrent writers, a bus that drops,
// repeats and reorders, and a reader that keeps disconnecting must still see every event
// exactly once, in sequence order.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { openTestDatabase } from "../test/support/test-database.ts";
import type { EventBus } from "./bus/event-bus.ts";
import { createMemoryBus } from "./bus/memory-bus.ts";
import type { Database } from "./db/database.ts";
import { inTransaction } from "./db/deadline.ts";
import { type FeedOptions, followTopic, followTopicBatches } from "./events-feed.ts";
import type { Gate } from "./gate.ts";
import { appendEvent, type StoredEvent } from "./stores/event-store.ts";

let database: Database;
before(async () => {
  database = await openTestDatabase(12);
});
after(async () => {
  await database?.close();
});

/** A bus that loses 10% of messages, repeats 5% and delays some past later ones. */
function unreliable(inner: EventBus, random: () => number): EventBus {
  return {
    ...inner,
    async publish(events) {
      for (const e of events) {
        const r = random();
        if (r < 0.1) continue;
        if (r < 0.15) void inner.publish([e]);
        if (r < 0.25) setTimeout(() => void inner.publish([e]), 5);
        else void inner.publish([e]);
      }
    },
  };
}

/** Deterministic randomness, so a failure can be replayed. */
function seeded(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
}

const noDeadline = { timeoutMs: () => undefined, signal: new AbortController().signal };

/**
 * A feed's options for a test that drives it through the bus: from the start of `topic`, with
 * a poll too slow to matter (what arrives comes from the bus), `extra` on top.
 */
function busFeed(
  bus: EventBus,
  topic: string,
  stop: AbortController,
  extra: Partial<FeedOptions> = {},
): FeedOptions {
  return {
    db: database.db,
    bus,
    topic,
    after: 0,
    signal: stop.signal,
    maxBuffered: 100,
    pollMs: 10_000,
    ...extra,
  };
}

async function write(bus: EventBus, topic: string, key: string, body: string): Promise<void> {
  const event = await inTransaction(database.db, noDeadline, (tx) =>
    appendEvent(tx, topic, key, new TextEncoder().encode(body)),
  );
  await bus.publish([event]);
}

test("8 writers × 500 events: a reader that resumes at random points gets each exactly once, in order", {
  timeout: 180_000,
}, async () => {
  const random = seeded(42);
  const memory = createMemoryBus();
  const bus = unreliable(memory, random);
  const topic = "proof";
  const writers = 8;
  const perWriter = 500;
  const total = writers * perWriter;

  const received: number[] = [];
  let cursor = 0;
  let reconnects = 0;
  const reader = (async () => {
    while (received.length < total) {
      const stop = new AbortController();
      const budget = 1 + Math.floor(random() * 300);
      let taken = 0;
      for await (const event of followTopic({
        db: database.db,
        bus,
        topic,
        after: cursor,
        signal: stop.signal,
        maxBuffered: 10_000,
        pollMs: 50,
        // This bus stays "connected" while it loses messages: only the safety net finds the
        // last ones, which no later event reveals as a gap.
        safetyPollMs: 100,
        pageSize: 64,
        // A tenth of the messages are lost for good: the default wait for an overtaken event
        // would only slow the proof down (the delayed ones still arrive late on the bus).
        reorderMs: 20,
      })) {
        received.push(event.sequence);
        cursor = event.sequence;
        if (++taken >= budget || received.length >= total) {
          stop.abort();
          break;
        }
      }
      reconnects++;
    }
  })();

  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      for (let i = 0; i < perWriter; i++) await write(bus, topic, `w${w}`, `${w}:${i}`);
    }),
  );
  await reader;
  assert.ok(reconnects > 10, `the reader reconnected ${reconnects} times`);
  assert.equal(received.length, total);
  assert.deepEqual(
    received,
    Array.from({ length: total }, (_, i) => i + 1),
  );
  assert.equal(memory.subscriptionCount(), 0, "every feed unsubscribed when it ended");
});

test("a key filter delivers only that key's events and still resumes exactly", {
  timeout: 30_000,
}, async () => {
  const bus = createMemoryBus();
  const topic = "filtered";
  for (let i = 0; i < 30; i++) await write(bus, topic, i % 3 === 0 ? "mine" : "other", `${i}`);
  const stop = new AbortController();
  const seen: StoredEvent[] = [];
  const feed = followTopic({
    db: database.db,
    bus,
    topic,
    after: 4,
    key: "mine",
    signal: stop.signal,
    maxBuffered: 100,
    pollMs: 1000,
  });
  const done = (async () => {
    for await (const e of feed) {
      seen.push(e);
      if (seen.length === 10) stop.abort();
    }
  })();
  while (seen.length < 8) await new Promise((r) => setTimeout(r, 10));
  for (let i = 30; i < 36; i++) await write(bus, topic, i % 3 === 0 ? "mine" : "other", `${i}`);
  await done;
  // Event i has sequence i + 1 and is "mine" when i % 3 = 0. Replayed after 4: 7, 10, …, 28;
  // then live: 31 and 34.
  assert.deepEqual(
    seen.map((e) => e.sequence),
    [7, 10, 13, 16, 19, 22, 25, 28, 31, 34],
  );
  assert.ok(seen.every((e) => e.key === "mine"));
});

test("a consumer that stops taking live events gets RESOURCE_EXHAUSTED naming its cursor", {
  timeout: 30_000,
}, async () => {
  const bus = createMemoryBus();
  const topic = "slow";
  const overflows: ConnectError[] = [];
  const stop = new AbortController();
  const feed = followTopic(
    busFeed(bus, topic, stop, { maxBuffered: 20, onOverflow: (err) => overflows.push(err) }),
  );
  await write(bus, topic, "", "first");
  const first = await feed.next();
  assert.equal(first.value?.sequence, 1);
  // The consumer now takes nothing while 50 more events arrive.
  for (let i = 0; i < 50; i++) await write(bus, topic, "", `e${i}`);
  assert.equal(overflows.length, 1, "the overflow is reported at once, before the consumer asks");
  await assert.rejects(feed.next(), (err: unknown) => {
    const ce = ConnectError.from(err);
    return ce.code === Code.ResourceExhausted && /resume after sequence 1\b/.test(ce.rawMessage);
  });
  assert.equal(bus.subscriptionCount(), 0);
});

test("a cursor beyond the last sequence is OUT_OF_RANGE, not a silent wait", async () => {
  const bus = createMemoryBus();
  await write(bus, "future", "", "only");
  const feed = followTopic({
    db: database.db,
    bus,
    topic: "future",
    after: 1000,
    signal: new AbortController().signal,
    maxBuffered: 10,
    pollMs: 1000,
  });
  await assert.rejects(feed.next(), (err: unknown) => ConnectError.from(err).code === Code.OutOfRange);
  assert.equal(bus.subscriptionCount(), 0);
});

/** Events stored in the table but not published: the test publishes them itself, in its own order. */
async function store(topic: string, count: number): Promise<StoredEvent[]> {
  const stored: StoredEvent[] = [];
  for (let i = 0; i < count; i++) {
    stored.push(
      await inTransaction(database.db, noDeadline, (tx) =>
        appendEvent(tx, topic, "", new TextEncoder().encode(`e${i}`)),
      ),
    );
  }
  return stored;
}

/** The sequences of a batch the feed handed over. */
function sequences(result: IteratorResult<StoredEvent[]>): number[] {
  return result.done ? [] : result.value.map((e) => e.sequence);
}

/** A gate that counts the feed's reads of the table. */
function countingGate(): { gate: Gate; reads(): number } {
  let reads = 0;
  return {
    gate: (work) => {
      reads++;
      return work();
    },
    reads: () => reads,
  };
}

test("batches: what arrived while the consumer held a batch comes next as one batch, in order", async () => {
  const bus = createMemoryBus();
  const topic = "batched";
  const stop = new AbortController();
  const feed = followTopicBatches(busFeed(bus, topic, stop));
  const first = feed.next();
  await write(bus, topic, "", "one");
  assert.deepEqual(sequences(await first), [1]);
  for (let i = 0; i < 5; i++) await write(bus, topic, "", `more ${i}`);
  assert.deepEqual(sequences(await feed.next()), [2, 3, 4, 5, 6]);
  stop.abort();
  await feed.return(undefined);
  assert.equal(bus.subscriptionCount(), 0);
});

test("batches: a limit of events or bytes splits what waits, and followTopic hands over one at a time", async () => {
  const bus = createMemoryBus();
  const topic = "limited";
  const stored = await store(topic, 7);
  const stop = new AbortController();
  const options = busFeed(bus, topic, stop);
  const byCount = followTopicBatches(options, { maxEvents: 3, maxBytes: 1 << 20 });
  const sizes: number[] = [];
  for (let seen = 0; seen < stored.length; ) {
    const batch = (await byCount.next()).value ?? [];
    sizes.push(batch.length);
    seen += batch.length;
  }
  assert.deepEqual(sizes, [3, 3, 1]);
  await byCount.return(undefined);
  // Each payload is 2 bytes: 5 bytes hold two events, and a batch always holds at least one.
  const byBytes = followTopicBatches(options, { maxEvents: 100, maxBytes: 5 });
  assert.equal((await byBytes.next()).value?.length, 2);
  await byBytes.return(undefined);
  const single = followTopic(options);
  assert.equal((await single.next()).value?.sequence, 1);
  assert.equal((await single.next()).value?.sequence, 2);
  await single.return(undefined);
  stop.abort();
});

/** A batch feed on its own bus and topic that counts its table reads, for the reorder tests. */
function reorderingFeed(topic: string, reorderMs: number) {
  const bus = createMemoryBus();
  const reads = countingGate();
  const stop = new AbortController();
  const feed = followTopicBatches(busFeed(bus, topic, stop, { gate: reads.gate, reorderMs }));
  return { bus, topic, reads, stop, feed };
}

test("an event overtaken on the bus is waited for, not read from the table", async () => {
  const { bus, topic, reads, stop, feed } = reorderingFeed("overtaken", 60_000);
  const first = feed.next();
  // Subscribed, and the empty table read (its head, then one page).
  while (reads.reads() < 2) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 20));
  const [one, two] = await store(topic, 2);
  assert.ok(one && two);
  await bus.publish([two]);
  await new Promise((r) => setTimeout(r, 20));
  await bus.publish([one]);
  assert.deepEqual(sequences(await first), [1, 2]);
  assert.equal(reads.reads(), 2, "no read of the table for the overtaken event");
  stop.abort();
  await feed.return(undefined);
});

test("a gap the bus never fills is read from the table once the reorder wait is over", async () => {
  const { bus, topic, reads, stop, feed } = reorderingFeed("lost", 50);
  const first = feed.next();
  while (reads.reads() < 2) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 20));
  const [, two] = await store(topic, 2);
  assert.ok(two);
  const published = performance.now();
  await bus.publish([two]); // the first one is lost
  assert.deepEqual(sequences(await first), [1, 2]);
  assert.ok(performance.now() - published >= 45, "it waited for the bus first");
  assert.ok(reads.reads() > 2, "then read the table");
  stop.abort();
  await feed.return(undefined);
});
