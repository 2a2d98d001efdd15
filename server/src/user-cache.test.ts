// The GetUser cache of design §2, one step at a time: every race is set up with promises the
// test resolves itself, so each interleaving is the same on every run.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, describe, test } from "node:test";
import { Redis } from "ioredis";
import { createMemoryBus } from "./bus/memory-bus.ts";
import type { UserRow } from "./db/schema.ts";
import { createUserCache, type UserCache, type UserCacheOptions, userChangesTopic } from "./user-cache.ts";

function row(id: string, version: number, name = `v${version}`): UserRow {
  const time = new Date(Date.UTC(2026, 0, 1, 0, 0, version));
  return {
    id,
    name,
    email: `${id}@example.com`,
    age: 30,
    role: "user",
    sessionEpoch: 0,
    createTime: time,
    updateTime: time,
    version,
  };
}

/** A promise the test settles by hand: a database read caught in the middle. */
function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** A load that counts its calls and answers from `current`. */
function database(initial: UserRow | undefined) {
  const db = {
    current: initial,
    loads: 0,
    load: async () => {
      db.loads++;
      return db.current;
    },
  };
  return db;
}

function cache(options: Partial<UserCacheOptions> = {}): UserCache {
  return createUserCache({ size: 100, ttlMs: 60_000, bus: createMemoryBus(), ...options });
}

describe("in-process tier", () => {
  test("a second read is answered without the database", async () => {
    const c = cache();
    const db = database(row("u1", 1));
    assert.equal((await c.get("u1", db.load))?.version, 1);
    assert.equal((await c.get("u1", db.load))?.version, 1);
    assert.equal(db.loads, 1);
    assert.deepEqual({ localHits: c.stats().localHits, loads: c.stats().loads }, { localHits: 1, loads: 1 });
  });

  test("a missing user is not cached", async () => {
    const c = cache();
    const db = database(undefined);
    assert.equal(await c.get("u1", db.load), undefined);
    db.current = row("u1", 1);
    assert.equal((await c.get("u1", db.load))?.version, 1);
  });

  test("concurrent reads of one user share one load", async () => {
    const c = cache();
    const slow = deferred<UserRow>();
    let loads = 0;
    const load = () => {
      loads++;
      return slow.promise;
    };
    const reads = [c.get("u1", load), c.get("u1", load), c.get("u1", load)];
    slow.resolve(row("u1", 1));
    assert.deepEqual(
      (await Promise.all(reads)).map((r) => r?.version),
      [1, 1, 1],
    );
    assert.equal(loads, 1);
    assert.equal(c.stats().joinedReads, 2);
  });

  test("the version rule: a read that finishes last with an older row does not replace a newer one", async () => {
    const c = cache();
    const slow = deferred<UserRow>();
    const fast = deferred<UserRow>();
    const first = c.get("u1", () => slow.promise);
    // A change lands while the first read is under way: the next read must not join it.
    c.invalidate({ id: "u1", version: 2 });
    const second = c.get("u1", () => fast.promise);
    fast.resolve(row("u1", 2));
    assert.equal((await second)?.version, 2);
    slow.resolve(row("u1", 1));
    assert.equal((await first)?.version, 1, "the slow read still answers what it read");
    assert.equal(c.peek("u1")?.version, 2, "but version 1 did not replace version 2");
    assert.equal(c.stats().refusedFills, 1);
  });

  test("a signal for an older version keeps the newer entry", async () => {
    const c = cache();
    await c.get("u1", database(row("u1", 3)).load);
    c.invalidate({ id: "u1", version: 2 });
    c.invalidate({ id: "u1", version: 3 });
    assert.equal(c.peek("u1")?.version, 3);
    c.invalidate({ id: "u1", version: 4 });
    assert.equal(c.peek("u1"), undefined);
  });

  test("after a signal for version 2 nothing older fills the slot, not even a read begun later", async () => {
    const c = cache();
    await c.get("u1", database(row("u1", 1)).load);
    c.invalidate({ id: "u1", version: 2 });
    // A replica (or a stale Redis) could still answer version 1: it is returned, never kept.
    assert.equal((await c.get("u1", database(row("u1", 1)).load))?.version, 1);
    assert.equal(c.peek("u1"), undefined);
    assert.equal((await c.get("u1", database(row("u1", 2)).load))?.version, 2);
    assert.equal(c.peek("u1")?.version, 2);
  });

  test("the update race: a read that loaded version 1 before the update does not fill after it", async () => {
    const c = cache();
    const db = database(row("u1", 1));
    const load = deferred<UserRow>();
    const reading = c.get("u1", () => load.promise); // read version 1 from the database ...
    db.current = row("u1", 2); // ... the update commits ...
    await c.updated(row("u1", 2)); // ... and is applied to the cache ...
    load.resolve(row("u1", 1)); // ... before the read comes back with its old row.
    assert.equal((await reading)?.version, 1);
    assert.equal(c.peek("u1")?.version, 2);
    assert.equal((await c.get("u1", db.load))?.version, 2);
    assert.equal(db.loads, 0, "the writer's row was kept: no read of the database");
    assert.equal(c.stats().refusedFills, 1);
  });

  test("the delete race: a read that loaded the user before the delete does not bring it back", async () => {
    const c = cache();
    const db = database(row("u1", 1));
    const load = deferred<UserRow>();
    const reading = c.get("u1", () => load.promise);
    db.current = undefined;
    await c.deleted("u1");
    load.resolve(row("u1", 1));
    assert.equal((await reading)?.version, 1);
    assert.equal(c.peek("u1"), undefined);
    assert.equal(await c.get("u1", db.load), undefined);
    assert.equal(db.loads, 1);
  });

  test("the race over the bus: another instance's read under way is refused when the signal lands first", async () => {
    const bus = createMemoryBus();
    const a = cache({ bus });
    const b = cache({ bus });
    const load = deferred<UserRow>();
    const reading = b.get("u1", () => load.promise);
    await a.updated(row("u1", 2)); // the memory bus delivers the signal to b at once
    load.resolve(row("u1", 1));
    await reading;
    assert.equal(b.peek("u1"), undefined);
    assert.equal(b.stats().signals, 1);
  });

  test("every instance drops its entry on the change signal; the writer keeps its new row", async () => {
    const bus = createMemoryBus();
    const a = cache({ bus });
    const b = cache({ bus });
    const db = database(row("u1", 1));
    await a.get("u1", db.load);
    await b.get("u1", db.load);
    db.current = row("u1", 2, "renamed");
    await a.updated(db.current);
    assert.equal(a.peek("u1")?.name, "renamed");
    assert.equal(b.peek("u1"), undefined);
    assert.equal((await b.get("u1", db.load))?.name, "renamed");

    db.current = undefined;
    await b.deleted("u1");
    assert.equal(a.peek("u1"), undefined);
    assert.equal(await a.get("u1", db.load), undefined);
  });

  test("a signal for a user not held takes no room", async () => {
    const c = cache({ size: 1 });
    await c.get("u1", database(row("u1", 1)).load);
    c.invalidate({ id: "u2", version: 5 });
    c.invalidate({ id: "u3", deleted: true });
    assert.equal(c.peek("u1")?.version, 1);
  });

  test("the in-process tier holds at most `size` users, dropping the least recently read", async () => {
    const c = cache({ size: 2 });
    await c.get("u1", database(row("u1", 1)).load);
    await c.get("u2", database(row("u2", 1)).load);
    await c.get("u1", database(undefined).load); // u1 is now the most recent
    await c.get("u3", database(row("u3", 1)).load);
    assert.ok(c.peek("u1"));
    assert.equal(c.peek("u2"), undefined);
    assert.ok(c.peek("u3"));
  });

  test("size 0 turns the in-process tier off", async () => {
    const c = cache({ size: 0 });
    const db = database(row("u1", 1));
    await c.get("u1", db.load);
    await c.get("u1", db.load);
    assert.equal(db.loads, 2);
  });

  test("entries expire after the TTL, which bounds a lost signal", async () => {
    let now = 0;
    const c = cache({ ttlMs: 1000, now: () => now });
    const db = database(row("u1", 1));
    await c.get("u1", db.load);
    now = 999;
    await c.get("u1", db.load);
    assert.equal(db.loads, 1);
    now = 1000;
    db.current = row("u1", 2);
    assert.equal((await c.get("u1", db.load))?.version, 2);
    assert.equal(db.loads, 2);
  });

  test("close stops listening to the bus", async () => {
    const bus = createMemoryBus();
    const c = cache({ bus });
    assert.equal(bus.subscriptionCount(), 1);
    c.close();
    assert.equal(bus.subscriptionCount(), 0);
  });

  test("signals that are not user changes are ignored", async () => {
    const bus = createMemoryBus();
    const c = cache({ bus });
    await c.get("u1", database(row("u1", 1)).load);
    await bus.publish([{ topic: userChangesTopic, key: "u1", sequence: 0, payload: new Uint8Array() }]);
    await bus.publish([{ topic: userChangesTopic, key: "", sequence: 9, payload: new Uint8Array() }]);
    assert.equal(c.peek("u1")?.version, 1);
  });
});

test("an unreachable Redis is a miss, not an error", async () => {
  const down = new Redis("redis://127.0.0.1:1", {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  const c = cache({ redis: down });
  const db = database(row("r5", 1));
  assert.equal((await c.get("r5", db.load))?.version, 1);
  await c.updated(row("r5", 2));
  assert.equal((await c.get("r5", db.load))?.version, 2);
  down.disconnect();
});

const redisUrl = process.env.REDIS_URL;
describe("shared Redis tier", { skip: redisUrl ? false : "REDIS_URL is unset" }, () => {
  const redis = new Redis(redisUrl ?? "redis://127.0.0.1:6379", { lazyConnect: true });
  const keyPrefix = `switchboard-test:${randomUUID()}:users:`;
  const shared = (options: Partial<UserCacheOptions> = {}) => cache({ redis, keyPrefix, ...options });
  after(async () => {
    if (redis.status === "wait") return;
    const keys = await redis.keys(`${keyPrefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  test("a second instance reads what the first filled, dates and version intact", async () => {
    const a = shared();
    const b = shared();
    const db = database(row("r1", 4));
    await a.get("r1", db.load);
    const got = await b.get("r1", db.load);
    assert.equal(db.loads, 1);
    assert.equal(b.stats().sharedHits, 1);
    assert.deepEqual(got, row("r1", 4));
    assert.equal((await redis.pttl(`${keyPrefix}r1`)) > 0, true, "the Redis entry has a TTL");
  });

  test("the late fill race across instances: Redis refuses the older row", async () => {
    const a = shared(); // a and b have buses of their own: the signal has not reached b yet
    const b = shared();
    const load = deferred<UserRow>();
    const reading = b.get("r2", () => load.promise);
    await a.updated(row("r2", 2));
    load.resolve(row("r2", 1));
    await reading;
    assert.equal(b.peek("r2")?.version, 1, "b has not heard of the update yet");
    const c = shared();
    assert.equal((await c.get("r2", database(undefined).load))?.version, 2, "Redis kept version 2");
    b.invalidate({ id: "r2", version: 2 }); // the signal lands
    assert.equal((await b.get("r2", database(undefined).load))?.version, 2);
  });

  test("a delete leaves a tombstone that refuses a late fill", async () => {
    const a = shared();
    const b = shared();
    const load = deferred<UserRow>();
    const reading = b.get("r3", () => load.promise);
    await a.deleted("r3");
    load.resolve(row("r3", 1));
    await reading;
    const c = shared();
    const db = database(undefined);
    assert.equal(await c.get("r3", db.load), undefined);
    assert.equal(db.loads, 1, "the tombstone is a miss, answered by the database");
  });

  test("a stale Redis entry is skipped once this instance knows a newer version", async () => {
    const a = shared();
    await a.get("r4", database(row("r4", 1)).load);
    // The writer could not reach Redis: Redis still holds version 1 when the signal lands.
    a.invalidate({ id: "r4", version: 2 });
    const db = database(row("r4", 2));
    assert.equal((await a.get("r4", db.load))?.version, 2);
    assert.equal(db.loads, 1);
  });
});
