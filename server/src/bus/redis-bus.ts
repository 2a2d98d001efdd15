import { Redis } from "ioredis";
import type { Logger } from "../logger.ts";
import type { StoredEvent } from "../stores/event-store.ts";
import { type EventBus, type EventListener, TopicListeners } from "./event-bus.ts";

/**
 * Redis pub/sub across instances. One connection publishes, one subscribes; a Redis channel
 * is subscribed while at least one local stream follows its topic. Messages carry the whole
 * event (sequence, key, payload) so a live subscriber needs no database read; one that sees
 * a gap reads the table instead. Channels are named `<namespace>:events:<topic>`.
 */
export async function createRedisBus(url: string, namespace: string, logger: Logger): Promise<EventBus> {
  // Deployments (and test databases) that share a Redis must not hear each other's events.
  const prefix = `${namespace}:events:`;
  const options = { lazyConnect: true, maxRetriesPerRequest: 2, enableOfflineQueue: false };
  const pub = new Redis(url, options);
  const sub = new Redis(url, { lazyConnect: true, enableOfflineQueue: true });
  for (const [name, conn] of [
    ["publisher", pub],
    ["subscriber", sub],
  ] as const) {
    conn.on("error", (err: Error) => logger.warn({ err: err.message, conn: name }, "redis error"));
  }
  await Promise.all([pub.connect(), sub.connect()]);
  const listeners = new TopicListeners();
  // One set of handlers on the connection, fanned out to every live stream that waits on it.
  const connectionListeners = new Set<() => void>();
  for (const event of ["ready", "close", "reconnecting", "end"]) {
    sub.on(event, () => {
      for (const listener of [...connectionListeners]) listener();
    });
  }
  sub.on("messageBuffer", (channel: Buffer, message: Buffer) => {
    const event = decode(channel.toString().slice(prefix.length), message);
    if (event) listeners.dispatch(event);
  });
  const onFirst = (topic: string) => {
    sub
      .subscribe(prefix + topic)
      .catch((err: unknown) => logger.warn({ err, topic }, "redis subscribe failed"));
  };
  return {
    async publish(events) {
      // A lost publish is not lost data: subscribers find the event in the table.
      try {
        const pipeline = pub.pipeline();
        const publishedAt = Date.now();
        for (const e of events) pipeline.publish(prefix + e.topic, encode(e, publishedAt));
        await pipeline.exec();
      } catch (err) {
        logger.warn({ err }, "redis publish failed; subscribers will catch up from the table");
      }
    },
    subscribe(topic: string, listener: EventListener) {
      listeners.add(topic, listener, onFirst);
      return () => {
        if (listeners.remove(topic, listener)) {
          sub.unsubscribe(prefix + topic).catch(() => {});
        }
      };
    },
    subscriptionCount: () => listeners.count(),
    connected: () => sub.status === "ready",
    onConnectionChange(listener) {
      connectionListeners.add(listener);
      return () => connectionListeners.delete(listener);
    },
    async ping() {
      // Both connections must be up: the publisher alone would hide a subscriber that is
      // reconnecting (and deaf) behind a working PING.
      if (sub.status !== "ready") throw new Error(`redis subscriber is ${sub.status}`);
      await pub.ping();
    },
    async close() {
      pub.disconnect();
      sub.disconnect();
    },
  };
}

// Wire format, version 1: 8-byte big-endian sequence, 2-byte key length, key (UTF-8), payload.
// Version 2 adds the publish time (for the bus lag metric) behind a marker that version 1
// reads as sequence 0 with a 65535-byte key: a repeat that an older instance's feed drops
// (its stream then catches up from the table within EVENT_POLL_MS) and a cache invalidation
// of no real user, so instances of both versions can run side by side during an upgrade.
// Version 2: the 10-byte marker (8 zero bytes, 0xffff), 8-byte publish time (ms, double),
// then version 1.
const v2Marker = Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]);

function encode(e: StoredEvent, publishedAt: number): Buffer {
  const key = Buffer.from(e.key);
  const head = Buffer.alloc(28);
  v2Marker.copy(head, 0);
  head.writeDoubleBE(publishedAt, 10);
  head.writeBigUInt64BE(BigInt(e.sequence), 18);
  head.writeUInt16BE(key.length, 26);
  return Buffer.concat([head, key, e.payload]);
}

function decode(topic: string, buf: Buffer): StoredEvent | undefined {
  let publishedAt: number | undefined;
  if (buf.length >= 28 && buf.subarray(0, 10).equals(v2Marker)) {
    publishedAt = buf.readDoubleBE(10);
    buf = buf.subarray(18);
  }
  if (buf.length < 10) return undefined;
  const keyLength = buf.readUInt16BE(8);
  return {
    topic,
    sequence: Number(buf.readBigUInt64BE(0)),
    key: buf.subarray(10, 10 + keyLength).toString(),
    payload: new Uint8Array(buf.subarray(10 + keyLength)),
    ...(publishedAt === undefined ? {} : { publishedAt }),
  };
}
