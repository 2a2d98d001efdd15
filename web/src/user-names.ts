import { useEffect, useState } from "react";
import type { User } from "../../gen/switchboard/v1/user_pb.js";
import { type Api, useApi } from "./api.tsx";

// Orders and chat messages carry user ids; people read names. One GetUser per id and per
// transport, shared by every row that shows it (rows are virtualized, so only visible ones ask).
const caches = new WeakMap<Api, Map<string, Promise<User | undefined>>>();

function cacheFor(api: Api): Map<string, Promise<User | undefined>> {
  let cache = caches.get(api);
  if (!cache) {
    cache = new Map();
    caches.set(api, cache);
  }
  return cache;
}

function lookUp(api: Api, id: string): Promise<User | undefined> {
  const cache = cacheFor(api);
  let user = cache.get(id);
  if (!user) {
    user = api.users.getUser({ id }).then(
      (res) => res.user,
      () => undefined,
    );
    cache.set(id, user);
  }
  return user;
}

/** The user's name once known (undefined meanwhile, or for a deleted user). */
export function useUserName(id: string): string | undefined {
  const api = useApi();
  const [name, setName] = useState<string>();
  useEffect(() => {
    let current = true;
    void lookUp(api, id).then((user) => {
      if (current) setName(user?.name);
    });
    return () => {
      current = false;
    };
  }, [api, id]);
  return name;
}

/** Seeds the cache with a user the page already has (just created, just picked). */
export function rememberUser(api: Api, user: User): void {
  cacheFor(api).set(user.id, Promise.resolve(user));
}
