import type { User } from "../../gen/switchboard/v1/user_pb.js";

/** Changes made on the Users page while its list streams in (by id: the user saved, or null once deleted). */
export type LocalChanges = Map<string, User | null>;

/** Whether the page's search `query` finds `user` (as the server's ListUsers query does: name or email). */
export function matches(user: User, query: string): boolean {
  const q = query.toLowerCase();
  return user.name.toLowerCase().includes(q) || user.email.toLowerCase().includes(q);
}

/** `list` with the users of `more` it does not hold yet. */
export function appendNew(list: User[], more: User[]): User[] {
  const known = new Set(list.map((u) => u.id));
  return list.concat(more.filter((u) => !known.has(u.id)));
}

/**
 * `list` as the page's own changes left it: the stream may have read a user before it was
 * saved or deleted here. Saved users missing from it are added if they match `query`.
 */
export function withChanges(list: User[], changes: LocalChanges, query: string): User[] {
  if (changes.size === 0) return list;
  const kept = list.filter((u) => changes.get(u.id) !== null).map((u) => changes.get(u.id) ?? u);
  const listed = new Set(kept.map((u) => u.id));
  const added = [...changes.values()].filter(
    (u): u is User => u !== null && !listed.has(u.id) && (!query || matches(u, query)),
  );
  return kept.concat(added);
}
