import type { HttpHandler } from "./http-handler.ts";

type NodeRequest = Parameters<HttpHandler>[0];

interface Waiting {
  req: NodeRequest;
  start: () => void;
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
 */
export function createFairDispatch(
  perTurn: number,
  perConnection = Math.max(1, Math.ceil(perTurn / 8)),
): (req: NodeRequest, start: () => void) => void {
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
    const startedBy = new Map<object, number>();
    let more = queues.size > 0;
    while (started < perTurn && more) {
      more = false;
      for (const [connection, queue] of queues) {
        const mine = startedBy.get(connection) ?? 0;
        if (mine >= perConnection) continue;
        more = true;
        const next = queue.shift();
        if (queue.length === 0) queues.delete(connection);
        if (next && !gone(next.req)) {
          started++;
          startedBy.set(connection, mine + 1);
          next.start();
        }
        if (started >= perTurn) break;
      }
    }
    if (queues.size > 0) nextTurn();
  }

  return (req, start) => {
    const connection: object = "stream" in req ? (req.stream.session ?? req.stream) : req.socket;
    let queue = queues.get(connection);
    if (!queue) {
      queue = [];
      queues.set(connection, queue);
    }
    queue.push({ req, start });
    nextTurn();
  };
}

/** Whether the client has already reset the request's HTTP/2 stream or closed its connection. */
function gone(req: NodeRequest): boolean {
  // (An HTTP/2 request's own `destroyed` stays false when its stream is reset: ask the stream.)
  return "stream" in req ? req.stream.destroyed || req.stream.closed : req.destroyed;
}
