import { Code, ConnectError } from "@connectrpc/connect";
import { useEffect, useRef, useState } from "react";
import { useApi } from "./api.tsx";

/** What a live view shows about its stream. */
export type LiveState = "idle" | "connecting" | "live" | "reconnecting" | "paused" | "failed";

export interface LiveStatus {
  state: LiveState;
  /** Why the stream is reconnecting or failed. */
  detail?: string;
}

export interface LiveStreamSpec<T> {
  /** False: no stream (e.g. no user chosen yet). */
  enabled?: boolean;
  /** Opens the stream after `after`; undefined asks for the server's default start. */
  open(after: bigint | undefined, signal: AbortSignal): AsyncIterable<T>;
  sequenceOf(item: T): bigint;
  /** New items in sequence order, each exactly once, in batches. */
  onItems(items: T[]): void;
  /** The first cursor (undefined: let the server choose, as chat's recent history does). */
  initialCursor?: bigint;
}

/**
 * Errors that a retry cannot mend: the view shows them and stops. OUT_OF_RANGE means the cursor
 * is past the server's history (its database was replaced): only a reload starts over.
 */
const fatalCodes = new Set([
  Code.OutOfRange,
  Code.InvalidArgument,
  Code.NotFound,
  Code.PermissionDenied,
  Code.Unauthenticated,
  Code.Unimplemented,
  Code.FailedPrecondition,
]);

/** A tab hidden this long gives its streams back (the six-connection budget is per browser). */
const hiddenGraceMs = 30_000;
/** Items are handed to React at most this often, so a replay of thousands renders a few times. */
const batchMs = 30;

function backoffMs(attempt: number): number {
  const ceiling = Math.min(3000, 250 * 2 ** attempt);
  return ceiling / 2 + (Math.random() * ceiling) / 2;
}

/**
 * Follows a resumable server stream for as long as the component is mounted: reconnects with
 * backoff after any drop (server restart, network loss, protocol switch) from the last
 * sequence it delivered, and drops anything at or below that sequence, so the consumer sees
 * every item once, in order, with no gaps. The server sends response headers only with the
 * first message, so a quiet stream counts as live once a health check on the same transport
 * answers after the stream was opened.
 */
export function useLiveStream<T>(spec: LiveStreamSpec<T>): LiveStatus {
  const api = useApi();
  const enabled = spec.enabled ?? true;
  const specRef = useRef(spec);
  specRef.current = spec;
  // The cursor of what was delivered to onItems; it outlives reconnections and protocol switches.
  const delivered = useRef<{ value: bigint | undefined } | null>(null);
  delivered.current ??= { value: spec.initialCursor };
  const [status, setStatus] = useState<LiveStatus>({ state: enabled ? "connecting" : "idle" });

  useEffect(() => {
    if (!enabled) {
      setStatus({ state: "idle" });
      return;
    }
    const stop = new AbortController();
    const cursor = delivered.current ?? { value: undefined };
    const { signal } = stop;
    let seen = cursor.value;
    let pending: T[] = [];
    let timer: ReturnType<typeof setTimeout> | undefined;
    const flush = () => {
      timer = undefined;
      if (signal.aborted || pending.length === 0) return;
      const items = pending;
      pending = [];
      cursor.value = specRef.current.sequenceOf(items[items.length - 1] as T);
      specRef.current.onItems(items);
    };
    signal.addEventListener("abort", () => clearTimeout(timer));

    void (async () => {
      let attempt = 0;
      let everLive = false;
      while (!signal.aborted) {
        const call = new AbortController();
        const endCall = () => call.abort();
        signal.addEventListener("abort", endCall);
        let hidden = false;
        void hiddenFor(hiddenGraceMs, call.signal).then(() => {
          hidden = true;
          call.abort();
        });
        let live = false;
        const markLive = () => {
          if (live || call.signal.aborted) return;
          live = true;
          everLive = true;
          attempt = 0;
          setStatus({ state: "live" });
        };
        setStatus({ state: everLive ? "reconnecting" : "connecting" });
        let detail = "the stream ended";
        try {
          const stream = specRef.current.open(seen, call.signal);
          api.health.check({}, { signal: call.signal }).then(markLive, () => {});
          for await (const item of stream) {
            markLive();
            const sequence = specRef.current.sequenceOf(item);
            if (seen !== undefined && sequence <= seen) continue;
            seen = sequence;
            pending.push(item);
            timer ??= setTimeout(flush, batchMs);
          }
        } catch (err) {
          const error = ConnectError.from(err);
          detail = error.rawMessage;
          if (!signal.aborted && !hidden && fatalCodes.has(error.code)) {
            setStatus({ state: "failed", detail });
            return;
          }
        } finally {
          signal.removeEventListener("abort", endCall);
          call.abort();
        }
        if (signal.aborted) return;
        if (hidden) {
          setStatus({ state: "paused" });
          await whenVisible(signal);
          everLive = false;
          continue;
        }
        setStatus({ state: "reconnecting", detail });
        await pause(backoffMs(attempt++), signal);
      }
    })();
    return () => stop.abort();
  }, [api, enabled]);

  return status;
}

/** The `key` field of each response of a stream (responses wrap the event: `{ event }`, `{ message }`). */
export async function* unwrap<R, K extends keyof R>(
  stream: AsyncIterable<R>,
  key: K,
): AsyncGenerator<NonNullable<R[K]>> {
  for await (const res of stream) {
    const value = res[key];
    if (value !== undefined && value !== null) yield value;
  }
}

/** Resolves once the tab has stayed hidden for `ms`; never, if the signal ends first. */
function hiddenFor(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const check = () => {
      clearTimeout(timer);
      if (document.visibilityState === "hidden") timer = setTimeout(done, ms);
    };
    const done = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      document.removeEventListener("visibilitychange", check);
    };
    document.addEventListener("visibilitychange", check);
    signal.addEventListener("abort", cleanup, { once: true });
    check();
  });
}

function whenVisible(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (document.visibilityState !== "hidden" || signal.aborted) {
        document.removeEventListener("visibilitychange", check);
        resolve();
      }
    };
    document.addEventListener("visibilitychange", check);
    signal.addEventListener("abort", check, { once: true });
    check();
  });
}

/** Waits `ms`, or less if the browser comes back online or the signal ends. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      window.removeEventListener("online", done);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    window.addEventListener("online", done);
    signal.addEventListener("abort", done);
  });
}
