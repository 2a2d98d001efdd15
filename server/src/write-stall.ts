import type { Writable } from "node:stream";
import { resetRequest } from "./call-control.ts";
import type { HttpHandler } from "./http-handler.ts";

type NodeRequest = Parameters<HttpHandler>[0];
type NodeResponse = Parameters<HttpHandler>[1];

/**
 * Resets a response whose client has stopped reading: one whose writes have waited for the
 * client to drain them for longer than `timeoutMs` (HTTP/2: ENHANCE_YOUR_CALM; HTTP/1.1: the
 * connection is closed). A live stream to such a client would otherwise hold its handler,
 * its buffers and a stream slot for as long as the connection lives.
 */
export function createWriteStallGuard(timeoutMs: number): {
  watch(req: NodeRequest, res: NodeResponse): void;
  close(): void;
} {
  const watched = new Map<Writable, { req: NodeRequest; since: number | undefined }>();
  const sweep = () => {
    const now = performance.now();
    for (const [out, entry] of watched) {
      if (!out.writableNeedDrain) entry.since = undefined;
      else if (entry.since === undefined) entry.since = now;
      else if (now - entry.since >= timeoutMs) {
        watched.delete(out);
        resetRequest(entry.req);
      }
    }
  };
  const timer = setInterval(sweep, Math.max(10, Math.floor(timeoutMs / 4)));
  timer.unref();
  return {
    watch(req, res) {
      // HTTP/2: the stream is what buffers; HTTP/1.1: the response itself.
      const out: Writable = "stream" in res ? res.stream : res;
      const entry = { req, since: undefined as number | undefined };
      watched.set(out, entry);
      const onDrain = () => {
        entry.since = undefined;
      };
      out.on("drain", onDrain);
      res.once("close", () => {
        out.off("drain", onDrain);
        watched.delete(out);
      });
    },
    close() {
      clearInterval(timer);
      watched.clear();
    },
  };
}
