import type { ServerHttp2Stream } from "node:http2";
import type { HttpHandler } from "./http-handler.ts";

type NodeRequest = Parameters<HttpHandler>[0];
/** A call waiting to start: a node request, or a bare HTTP/2 stream (the unary fast path). */
export type Arrival = NodeRequest | ServerHttp2Stream;

interface Waiting {
  arrival: Arrival;
  start: () => void;
  /** A stream: its start costs connect-node several times a unary call's (see below). */
  heavy: boolean;
}

/**
 * Starts requests fairly across connections. Node dispatches every request that one socket
 * read delivered before it looks at any other socket, so a client that sends thousands of
 * requests at once (a burst, a flood of bad tokens, HTTP/2 rapid reset) makes every other
 * client wait behind all of them, even when each is refused cheaply. Here requests start on
 * the loop's check phase, once the reads of this turn are done: at most `perTurn` a turn and
 * `perConnection` of them from any one connection, one per connection per round, the rest
 * waiting in a queue per connection with I/O polled between turns — so another client's
 * request waits behind a few of the flood's, not all of them (the calls started in one turn
 * run interleaved, and each finishes about when the turn's last does). Waiting until the reads are done also lets a stream that its client opened and reset
 * in the same write (rapid reset, CVE-2023-44487) be seen as gone and dropped before any
 * work is spent on it; a request whose client left while it waited is dropped the same way.
 * Heavy calls (streams: building one in connect-node costs about 0.3 ms, several unary calls'
 * worth) start at most `heavyPerTurn` a turn, so a burst of new streams cannot make one turn
 * tens of milliseconds long for the unary calls started beside them.
 */
export function createFairDispatch(
  perTurn: number,
  perConnection = Math.max(1, Math.ceil(perTurn / 8)),
  heavyPerTurn = Math.max(1, Math.ceil(perTurn / 8)),
): (arrival: Arrival, start: () => void, heavy?: boolean) => void {
  const queues = new Map<object, Waiting[]>();
  let turnScheduled = false;

  const nextTurn = () => {
    if (turnScheduled) return;
    turnScheduled = true;
    // An immediate scheduled from an immediate runs on the loop's next turn, after it has
    // polled for I/O: requests from other connections are read (and queued fairly) between
    // rounds, with no timer's 1 ms floor.
    setImmediate(turn);
  };

  function turn(): void {
    turnScheduled = false;
    let started = 0;
    let heavyStarted = 0;
    const startedBy = new Map<object, number>();
    let more = queues.size > 0;
    while (started < perTurn && more) {
      more = false;
      for (const [connection, queue] of queues) {
        const mine = startedBy.get(connection) ?? 0;
        if (mine >= perConnection) continue;
        const next = queue[0];
        const isGone = next === undefined || gone(next.arrival);
        // A heavy call past this turn's share waits, and its connection's later calls behind it.
        if (!isGone && next.heavy && heavyStarted >= heavyPerTurn) continue;
        more = true;
        queue.shift();
        if (queue.length === 0) queues.delete(connection);
        if (!isGone) {
          started++;
          if (next.heavy) heavyStarted++;
          startedBy.set(connection, mine + 1);
          next.start();
        }
        if (started >= perTurn) break;
      }
    }
    if (queues.size > 0) nextTurn();
  }

  return (arrival, start, heavy = false) => {
    const connection = connectionOf(arrival);
    let queue = queues.get(connection);
    if (!queue) {
      queue = [];
      queues.set(connection, queue);
    }
    queue.push({ arrival, start, heavy });
    nextTurn();
  };
}

function isStream(arrival: Arrival): arrival is ServerHttp2Stream {
  return "respond" in arrival;
}

/** The HTTP/2 session or HTTP/1.1 socket a call came on. */
function connectionOf(arrival: Arrival): object {
  if (isStream(arrival)) return arrival.session ?? arrival;
  return "stream" in arrival ? (arrival.stream.session ?? arrival.stream) : arrival.socket;
}

/** Whether the client has already reset the call's HTTP/2 stream or closed its connection. */
function gone(arrival: Arrival): boolean {
  if (isStream(arrival)) return arrival.destroyed || arrival.closed;
  // (An HTTP/2 request's own `destroyed` stays false when its stream is reset: ask the stream.)
  return "stream" in arrival ? arrival.stream.destroyed || arrival.stream.closed : arrival.destroyed;
}
