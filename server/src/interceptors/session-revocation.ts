import { Code, ConnectError } from "@connectrpc/connect";
import type { Authenticate } from "../auth/authenticate.ts";
import type { Role } from "../db/schema.ts";

const roleChanged = "the caller's role changed while the stream was open; open it again";

/**
 * Ends the open streams of sessions that have ended. A call is authenticated when it starts,
 * and a stream may stay open for hours: without this, a token's holder would keep receiving
 * (and in a bidi stream, sending) after the user's password changed or the user was deleted.
 * On each change to a user (this instance's or, through the bus, another's), that user's open
 * streams authenticate again with the header they started with; those refused end with that
 * UNAUTHENTICATED answer. A stream whose caller's role changed ends ABORTED: what it may see
 * was decided at its start, and a client that opens it again gets what the new role allows.
 */
export interface SessionRevocation {
  /** `messages`, ending with UNAUTHENTICATED once `authorization` no longer authenticates. */
  guard<T>(
    principal: { userId: string; role: Role },
    authorization: string | null,
    messages: AsyncIterable<T>,
  ): AsyncIterable<T>;
}

export function createSessionRevocation(
  authenticate: Authenticate,
  onUserChange: (listener: (userId: string) => void) => () => void,
): SessionRevocation {
  const byUser = new Map<string, Set<() => void>>();
  onUserChange((userId) => {
    for (const recheck of byUser.get(userId) ?? []) recheck();
  });

  const watch = (userId: string, recheck: () => void) => {
    let set = byUser.get(userId);
    if (!set) {
      set = new Set();
      byUser.set(userId, set);
    }
    set.add(recheck);
    return () => {
      if (set.delete(recheck) && set.size === 0) byUser.delete(userId);
    };
  };

  return {
    guard({ userId, role }, authorization, messages) {
      return {
        [Symbol.asyncIterator]() {
          const inner = messages[Symbol.asyncIterator]();
          let ended: ConnectError | undefined;
          let reject: ((e: ConnectError) => void) | undefined;
          const revoked = new Promise<never>((_, r) => {
            reject = r;
          });
          revoked.catch(() => {});
          const end = (err: ConnectError) => {
            ended ??= err;
            reject?.(err);
          };
          const stop = watch(userId, () => {
            authenticate(authorization).then(
              (now) => {
                if (now.role !== role) end(new ConnectError(roleChanged, Code.Aborted));
              },
              (err: unknown) => {
                // Only a refused session ends the stream; a database that cannot answer does not.
                if (err instanceof ConnectError && err.code === Code.Unauthenticated) end(err);
              },
            );
          });
          const endWith = (err: ConnectError): never => {
            stop();
            // The handler may be waiting for events: its generator finishes when connect
            // aborts the call's signal, after this error has been sent.
            void inner.return?.()?.catch(() => {});
            throw err;
          };
          return {
            async next() {
              if (ended) endWith(ended);
              try {
                const result = await Promise.race([inner.next(), revoked]);
                if (result.done) stop();
                return result;
              } catch (err) {
                if (ended) endWith(ended);
                stop();
                throw err;
              }
            },
            async return(value?: unknown) {
              stop();
              return (await inner.return?.(value)) ?? { done: true, value: undefined };
            },
          };
        },
      };
    },
  };
}
