import { createContext, type ReactNode, useCallback, useContext, useMemo, useState } from "react";
import type { User } from "../../gen/switchboard/v1/user_pb.js";
import { isAdmin, useSession } from "./session.tsx";

/** Who this tab acts as: the sender of chat messages and the owner of the notification tray. */
export interface ActingUser {
  id: string;
  name: string;
  email: string;
}

interface ActingUserState {
  user: ActingUser | null;
  /**
   * Whether the header offers to choose: an admin may act as anyone (the operator's admin
   * token, which names no user, must choose); a user always acts as themselves.
   */
  canChoose: boolean;
  /**
   * The user_id a request that acts as `user` sends: empty for a user (the server takes the
   * token's own user), the chosen user's id for an admin.
   */
  requestUserId: string;
  setUser(user: ActingUser | null): void;
}

const ActingUserContext = createContext<ActingUserState | null>(null);

// Earlier versions kept the acting user in localStorage: forget what they left behind.
try {
  localStorage.removeItem("switchboard.actingUser");
} catch {}

export function actingUserOf(user: User): ActingUser {
  return { id: user.id, name: user.name, email: user.email };
}

/**
 * Kept in memory with the session (not in storage): the next person to sign in on this
 * browser starts as themselves, or, with the admin token, with no one chosen.
 */
export function ActingUserProvider({ children }: { children: ReactNode }) {
  const { session } = useSession();
  const canChoose = isAdmin(session);
  const own = useMemo(() => (session.user ? actingUserOf(session.user) : null), [session.user]);
  const [chosen, setChosen] = useState<ActingUser | null>(own);
  const setUser = useCallback(
    (next: ActingUser | null) => {
      if (canChoose) setChosen(next);
    },
    [canChoose],
  );
  const value = useMemo<ActingUserState>(() => {
    const user = canChoose ? chosen : own;
    return { user, canChoose, requestUserId: canChoose ? (user?.id ?? "") : "", setUser };
  }, [canChoose, chosen, own, setUser]);
  return <ActingUserContext.Provider value={value}>{children}</ActingUserContext.Provider>;
}

export function useActingUser(): ActingUserState {
  const state = useContext(ActingUserContext);
  if (!state) throw new Error("useActingUser outside ActingUserProvider");
  return state;
}
