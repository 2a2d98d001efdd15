import { createHash } from "node:crypto";
import type { Redis } from "ioredis";
import type { EventBus } from "./bus/event-bus.ts";
import type { UserRow } from "./db/schema.ts";
import type { Logger } from "./logger.ts";
import type { StoredEvent } from "./stores/event-store.ts";

/**
 * The bus topic of user change signals. They are invalidations only, never written to the
 * events table: key = user id, sequence = the new version (0 for a delete), payload = the change.
 */
export const userChangesTopic = "user-changes";

export type UserChange = { id: string; version: number } | { id: string; deleted: true };

export interface UserCacheOptions {
  /** Entries the in-process tier holds (0: no in-process tier). */
  size: number;
  /** Life of an entry in either tier: the most a lost invalidation can leave a stale read. */
  ttlMs: number;
  /** Carries change signals between instances; the cache subscribes to it at once. */
  bus: EventBus;
  /** The shared tier; without it the cache has the in-process tier only. */
  redis?: Redis | undefined;
  /** Prefix of the Redis keys (the deployment's namespace); the user id follows it. */
  keyPrefix?: string;
  logger?: Logger | undefined;
  /** Clock for the TTL of the in-process tier (tests). */
  now?: () => number;
}

export interface UserCacheStats {
  /** Reads answered by the in-process tier. */
  localHits: number;
  /** Reads answered by Redis. */
  sharedHits: number;
  /** Reads that joined another caller's read of the same user already under way. */
  joinedReads: number;
  /** Reads that went to the database. */
  loads: number;
  /** Fills refused because a newer version (or a delete) was seen while the read was under way. */
  refusedFills: number;
  /** Change signals received from the bus. */
  signals: number;
}

export interface UserCache {
  /** Reads a user through the tiers; `load` reads the database, and its result fills both tiers. */
  get(id: string, load: () => Promise<UserRow | undefined>): Promise<UserRow | undefined>;
  /** Call after an update commits: sets Redis (if newer), this instance, then tells the others. */
  updated(row: UserRow): Promise<void>;
  /** Call after a delete commits: tombstones Redis and this instance, then tells the others. */
  deleted(id: string): Promise<void>;
  /** Applies a change to the in-process tier only; what a change signal from the bus does. */
  invalidate(change: UserChange): void;
  /**
   * Calls `listener` with the id of each user that changed, on this instance or (through the
   * bus) another, once the change is applied here. Returns the function that stops it.
   */
  onChange(listener: (id: string) => void): () => void;
  /** The in-process entry of a user, without touching its recency (tests, diagnostics). */
  peek(id: string): UserRow | undefined;
  stats(): Readonly<UserCacheStats>;
  /** Stops listening to the bus. */
  close(): void;
}

/**
 * One in-process slot. `version` is the newest version this instance knows the user has
 * reached; `row` is that version's row, or undefined when only the version is known (a
 * change signal arrived) or the user is deleted (`version` Infinity). A slot without a row
 * is a floor: nothing older may fill it, from Redis or the database.
 */
interface Slot {
  version: number;
  row: UserRow | undefined;
  expiresAt: number;
}

/** A read under way; a change of its user raises `minVersion`, so a late fill is refused. */
interface PendingRead {
  minVersion: number;
}

const deletedVersion = Number.POSITIVE_INFINITY;

/**
 * Sets KEYS[1] to ARGV[2] (for ARGV[3] ms) unless it holds a tombstone or a version at least
 * ARGV[1]: in one step on the server, so an older row never replaces a newer one, whatever
 * order the writers and late readers of different instances arrive in.
 */
const setIfNewerScript = `
local current = redis.call('GET', KEYS[1])
if current then
  local ok, entry = pcall(cjson.decode, current)
  if ok and type(entry) == 'table' then
    if entry.deleted then return 0 end
    local version = tonumber(entry.version)
    if version and version >= tonumber(ARGV[1]) then return 0 end
  end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`;

const setIfNewerSha = createHash("sha1").update(setIfNewerScript).digest("hex");

interface SharedEntry {
  version?: number;
  deleted?: boolean;
  row?: {
    id: string;
    name: string;
    email: string;
    age: number;
    // Absent in entries written before roles existed.
    role?: UserRow["role"];
    createTime: string;
    updateTime: string;
    // Absent in entries written before session epochs: such an entry is read as a miss.
    sessionEpoch?: number;
  };
}

/**
 * GetUser's read-through cache: a bounded in-process LRU, then (with Redis) a shared tier,
 * then the database. Entries carry the row's version and an older version never replaces a
 * newer one, in either tier. A write updates Redis and this instance before it returns, so
 * this instance never reads its own write's old value; other instances drop their entry when
 * the write's signal reaches them over the bus.
 *
 * Late fills: a read that loaded version 1 before an update committed must not put version 1
 * back after the update was applied. Each read under way is registered per user, and a change
 * raises the version it may fill with; Redis compares versions in a script; a delete leaves a
 * tombstone in both tiers (for the TTL in Redis, until evicted here).
 */
export function createUserCache(options: UserCacheOptions): UserCache {
  const { size, ttlMs, bus, redis, logger } = options;
  const keyPrefix = options.keyPrefix ?? "switchboard:users:";
  const now = options.now ?? Date.now;
  const slots = new Map<string, Slot>(); // insertion order is recency order: oldest first
  const pending = new Map<string, Set<PendingRead>>();
  // One read per user at a time: concurrent misses (a burst of calls authenticating as one
  // user, say) share it instead of each loading the row.
  const inflight = new Map<string, { read: PendingRead; result: Promise<UserRow | undefined> }>();
  const counts: UserCacheStats = {
    localHits: 0,
    sharedHits: 0,
    joinedReads: 0,
    loads: 0,
    refusedFills: 0,
    signals: 0,
  };

  const unsubscribe = bus.subscribe(userChangesTopic, (event) => {
    const change = decodeChange(event);
    if (!change) return;
    counts.signals++;
    apply(change, false);
  });

  function touch(id: string, slot: Slot): void {
    slots.delete(id);
    slots.set(id, slot);
    while (slots.size > size) {
      const oldest = slots.keys().next();
      if (oldest.done) break;
      slots.delete(oldest.value);
    }
  }

  /** Puts a row in the in-process tier unless a newer version, a delete or a read's floor says no. */
  function fillLocal(row: UserRow, read: PendingRead | undefined): boolean {
    if (read && row.version < read.minVersion) return false;
    const slot = slots.get(row.id);
    if (slot && slot.version > row.version) return false;
    if (size === 0) return true;
    touch(row.id, { version: row.version, row, expiresAt: now() + ttlMs });
    return true;
  }

  /**
   * Applies a change here. `own`: this instance made it, so it records a floor even for a user
   * it holds nothing of (it may hold the user next); a signal only lowers what is already held.
   */
  const listeners = new Set<(id: string) => void>();

  function apply(change: UserChange, own: boolean): void {
    applyToSlots(change, own);
    for (const listener of listeners) listener(change.id);
  }

  function applyToSlots(change: UserChange, own: boolean): void {
    const version = "deleted" in change ? deletedVersion : change.version;
    for (const read of pending.get(change.id) ?? []) read.minVersion = Math.max(read.minVersion, version);
    // A read under way began before this change: later readers must not join it.
    inflight.delete(change.id);
    const slot = slots.get(change.id);
    if (slot && slot.version >= version) return; // already this version or newer
    if (!slot && !own) return;
    if (size === 0) return;
    const floor: Slot = { version, row: undefined, expiresAt: 0 };
    if (slot)
      slots.set(change.id, floor); // a signal keeps the slot's place in the LRU
    else touch(change.id, floor);
  }

  async function readShared(id: string): Promise<UserRow | undefined> {
    if (!redis) return undefined;
    try {
      const raw = await redis.get(keyPrefix + id);
      if (!raw) return undefined;
      const entry = JSON.parse(raw) as SharedEntry;
      if (entry.deleted || !entry.row || entry.version === undefined) return undefined;
      if (entry.row.sessionEpoch === undefined) return undefined;
      return {
        ...entry.row,
        role: entry.row.role === "admin" ? "admin" : "user",
        sessionEpoch: entry.row.sessionEpoch,
        version: entry.version,
        createTime: new Date(entry.row.createTime),
        updateTime: new Date(entry.row.updateTime),
      };
    } catch (err) {
      logger?.warn({ err, id }, "user cache: redis read failed; reading the database");
      return undefined;
    }
  }

  async function writeShared(row: UserRow): Promise<void> {
    if (!redis) return;
    const entry: SharedEntry = {
      version: row.version,
      row: {
        id: row.id,
        name: row.name,
        email: row.email,
        age: row.age,
        role: row.role,
        createTime: row.createTime.toISOString(),
        updateTime: row.updateTime.toISOString(),
        sessionEpoch: row.sessionEpoch,
      },
    };
    const args = [keyPrefix + row.id, row.version, JSON.stringify(entry), ttlMs] as const;
    try {
      try {
        await redis.evalsha(setIfNewerSha, 1, ...args);
      } catch (err) {
        if (!String(err).includes("NOSCRIPT")) throw err;
        await redis.eval(setIfNewerScript, 1, ...args);
      }
    } catch (err) {
      logger?.warn({ err, id: row.id }, "user cache: redis write failed");
    }
  }

  async function tombstoneShared(id: string): Promise<void> {
    if (!redis) return;
    try {
      await redis.set(keyPrefix + id, JSON.stringify({ deleted: true } satisfies SharedEntry), "PX", ttlMs);
    } catch (err) {
      logger?.warn({ err, id }, "user cache: redis tombstone failed");
    }
  }

  async function signal(change: UserChange): Promise<void> {
    const deleted = "deleted" in change;
    // The write has committed: a lost signal costs other instances at most the TTL, never the call.
    await bus
      .publish([
        {
          topic: userChangesTopic,
          key: change.id,
          sequence: deleted ? 0 : change.version,
          payload: new TextEncoder().encode(deleted ? "deleted" : "updated"),
        },
      ])
      .catch((err: unknown) => logger?.warn({ err, id: change.id }, "user cache: change signal failed"));
  }

  /** Redis, then the database, filling both tiers unless a change since `read` began says no. */
  async function readThrough(
    id: string,
    load: () => Promise<UserRow | undefined>,
    read: PendingRead,
  ): Promise<UserRow | undefined> {
    let reads = pending.get(id);
    if (!reads) {
      reads = new Set();
      pending.set(id, reads);
    }
    reads.add(read);
    try {
      if (read.minVersion !== deletedVersion) {
        const shared = await readShared(id);
        if (shared && shared.version >= read.minVersion) {
          counts.sharedHits++;
          if (!fillLocal(shared, read)) counts.refusedFills++;
          return shared;
        }
      }
      const row = await load();
      counts.loads++;
      if (!row) return undefined;
      // A change seen since this read began refuses the fill here, and skips Redis too:
      // the writer has set Redis already, and the script would refuse an older row anyway.
      if (fillLocal(row, read)) {
        await writeShared(row);
      } else {
        counts.refusedFills++;
      }
      return row;
    } finally {
      reads.delete(read);
      if (reads.size === 0 && pending.get(id) === reads) pending.delete(id);
    }
  }

  return {
    get(id, load) {
      const slot = slots.get(id);
      if (slot?.row && slot.expiresAt > now()) {
        touch(id, slot);
        counts.localHits++;
        return Promise.resolve(slot.row);
      }
      // Versions only grow and ids are never reused, so even an expired slot is a valid floor.
      const floor = slot?.version ?? 0;
      // Join a read under way unless a change has been seen since it began (a higher floor).
      const flight = inflight.get(id);
      if (flight && flight.read.minVersion >= floor) {
        counts.joinedReads++;
        return flight.result;
      }
      const read: PendingRead = { minVersion: floor };
      const result = readThrough(id, load, read);
      inflight.set(id, { read, result });
      const forget = () => {
        if (inflight.get(id)?.result === result) inflight.delete(id);
      };
      result.then(forget, forget);
      return result;
    },
    async updated(row) {
      await writeShared(row);
      apply({ id: row.id, version: row.version }, true);
      fillLocal(row, undefined);
      await signal({ id: row.id, version: row.version });
    },

    async deleted(id) {
      await tombstoneShared(id);
      apply({ id, deleted: true }, true);
      await signal({ id, deleted: true });
    },

    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    invalidate(change) {
      apply(change, false);
    },

    peek(id) {
      const slot = slots.get(id);
      return slot?.row && slot.expiresAt > now() ? slot.row : undefined;
    },

    stats: () => ({ ...counts }),

    close() {
      unsubscribe();
    },
  };
}

function decodeChange(event: StoredEvent): UserChange | undefined {
  if (!event.key) return undefined;
  if (new TextDecoder().decode(event.payload) === "deleted") return { id: event.key, deleted: true };
  return event.sequence > 0 ? { id: event.key, version: event.sequence } : undefined;
}
