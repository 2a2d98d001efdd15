import { createContext, type ReactNode, useCallback, useContext, useMemo, useState } from "react";

/** Who this browser acts as: the sender of chat messages and the owner of the notification tray. */
export interface ActingUser {
  id: string;
  name: string;
  email: string;
}

interface ActingUserState {
  user: ActingUser | null;
  setUser(user: ActingUser | null): void;
}

const storageKey = "switchboard.actingUser";
const ActingUserContext = createContext<ActingUserState | null>(null);

function load(): ActingUser | null {
  try {
    const raw = localStorage.getItem(storageKey);
    const parsed: unknown = raw ? JSON.parse(raw) : null;
    if (parsed && typeof parsed === "object" && "id" in parsed && "name" in parsed && "email" in parsed) {
      const { id, name, email } = parsed as Record<string, unknown>;
      if (typeof id === "string" && typeof name === "string" && typeof email === "string") {
        return { id, name, email };
      }
    }
  } catch {}
  return null;
}

export function ActingUserProvider({ children }: { children: ReactNode }) {
  const [user, setState] = useState<ActingUser | null>(load);
  const setUser = useCallback((next: ActingUser | null) => {
    if (next) localStorage.setItem(storageKey, JSON.stringify(next));
    else localStorage.removeItem(storageKey);
    setState(next);
  }, []);
  const value = useMemo(() => ({ user, setUser }), [user, setUser]);
  return <ActingUserContext.Provider value={value}>{children}</ActingUserContext.Provider>;
}

export function useActingUser(): ActingUserState {
  const state = useContext(ActingUserContext);
  if (!state) throw new Error("useActingUser outside ActingUserProvider");
  return state;
}
