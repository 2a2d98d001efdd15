import type { HttpHandler } from "./http-handler.ts";

type NodeRequest = Parameters<HttpHandler>[0];

/**
 * Starts requests fairly across connections. Node dispatches every request that one socket
 * read delivered before it looks at any other socket, so a client that sends thousands of
 * requests at once (a burst, a flood of bad tokens, HTTP/2 rapid reset) makes every other
 * client wait behind all of them, even when each is refused cheaply. Here at most `perTurn`
 * requests start per turn of the event loop; the rest wait in a queue per connection and
 * start one per connection per round, with I/O polled between turns — so another client's
 * request waits behind a few of the flood's, not all of them. Under ordinary load no
 * request waits at all.
 */
export function createFairDispatch(perTurn: number): (req: NodeRequest, start: () => void) => void {
  const queues = new Map<object, (() => void)[]>();
  let startedThisTurn = 0;
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
    startedThisTurn = 0;
    while (startedThisTurn < perTurn && queues.size > 0) {
      for (const [connection, queue] of queues) {
        const start = queue.shift();
        if (queue.length === 0) queues.delete(connection);
        if (start) {
          startedThisTurn++;
          start();
        }
        if (startedThisTurn >= perTurn) break;
      }
    }
    if (queues.size > 0 || startedThisTurn > 0) nextTurn();
  }

  return (req, start) => {
    const connection: object = "stream" in req ? (req.stream.session ?? req.stream) : req.socket;
    if (queues.size === 0 && startedThisTurn < perTurn) {
      startedThisTurn++;
      nextTurn();
      start();
      return;
    }
    let queue = queues.get(connection);
    if (!queue) {
      queue = [];
      queues.set(connection, queue);
    }
    queue.push(start);
    nextTurn();
  };
}
