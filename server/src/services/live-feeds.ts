import type { HandlerContext } from "@connectrpc/connect";
import type { EventBus } from "../bus/event-bus.ts";
import { endStalledCall } from "../call-control.ts";
import type { Db } from "../db/database.ts";
import { type FeedOptions, followTopic, followTopicBatches } from "../events-feed.ts";
import type { Gate } from "../gate.ts";
import type { StoredEvent } from "../stores/event-store.ts";

/** What every live stream needs: where events are stored, how they travel, and its limits. */
export interface LiveFeeds {
  db: Db;
  bus: EventBus;
  /** Live events held per stream for a consumer that lags; past it the stream is ended. */
  maxBuffered: number;
  /** How often a quiet stream checks the events table. */
  pollMs: number;
  /** How often a quiet stream checks the events table while the bus is connected. */
  safetyPollMs: number;
  /** Told the publish-to-delivery time of each live event a stream gets from the bus. */
  observeLag?: (seconds: number) => void;
  /** Streams' reads of the events table go through it (gate.ts): a share of the pool, not all. */
  gate?: Gate;
}

/** The feed of one call: ends with the call, and ends a call whose client stopped reading. */
export function followForCall(
  feeds: LiveFeeds,
  ctx: HandlerContext,
  topic: string,
  after: number,
  key?: string,
  /** Ends the feed before the call ends (default: the call's signal). */
  signal: AbortSignal = ctx.signal,
): AsyncGenerator<StoredEvent> {
  return followTopic(feedOptions(feeds, ctx, topic, after, key, signal));
}

/**
 * followForCall in batches (followTopicBatches): for a call that writes each batch to its
 * client at once, so that a stream that falls behind catches up in a few writes.
 */
export function followBatchesForCall(
  feeds: LiveFeeds,
  ctx: HandlerContext,
  topic: string,
  after: number,
): AsyncGenerator<StoredEvent[]> {
  return followTopicBatches(feedOptions(feeds, ctx, topic, after, undefined, ctx.signal));
}

function feedOptions(
  feeds: LiveFeeds,
  ctx: HandlerContext,
  topic: string,
  after: number,
  key: string | undefined,
  signal: AbortSignal,
): FeedOptions {
  // A consumer that is merely slow pulls again soon and gets the error in band; one that is
  // parked on a full connection does not, and after this grace its stream is reset.
  let stalled: NodeJS.Timeout | undefined;
  return {
    db: feeds.db,
    bus: feeds.bus,
    topic,
    after,
    key,
    signal,
    maxBuffered: feeds.maxBuffered,
    pollMs: feeds.pollMs,
    safetyPollMs: feeds.safetyPollMs,
    observeLag: feeds.observeLag,
    gate: feeds.gate,
    onOverflow: (err) => {
      stalled = setTimeout(() => endStalledCall(ctx, err), stalledGraceMs);
    },
    onEnd: () => clearTimeout(stalled),
  };
}

const stalledGraceMs = 1000;
