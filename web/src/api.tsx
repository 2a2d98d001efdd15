import type { ConnectError } from "@connectrpc/connect";
import { type Client, createClient } from "@connectrpc/connect";
import { createContext, type ReactNode, useContext, useMemo } from "react";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { AuthService } from "../../gen/switchboard/v1/auth_pb.js";
import { ChatService } from "../../gen/switchboard/v1/chat_pb.js";
import { NotificationService } from "../../gen/switchboard/v1/notification_pb.js";
import { OrderService } from "../../gen/switchboard/v1/order_pb.js";
import { UserService } from "../../gen/switchboard/v1/user_pb.js";
import { createTransport, type Protocol } from "./protocol.ts";
import { bearer } from "./session.tsx";

/** One client per service, all on the transport of the chosen protocol, all with the session's token. */
export interface Api {
  protocol: Protocol;
  auth: Client<typeof AuthService>;
  users: Client<typeof UserService>;
  orders: Client<typeof OrderService>;
  chat: Client<typeof ChatService>;
  notifications: Client<typeof NotificationService>;
  health: Client<typeof Health>;
}

const ApiContext = createContext<Api | null>(null);

interface ApiProviderProps {
  protocol: Protocol;
  /** The session's bearer token. */
  token: string;
  /** A call was answered UNAUTHENTICATED: the token is no longer accepted. Keep it stable. */
  onUnauthenticated(error: ConnectError): void;
  children: ReactNode;
}

/**
 * Rebuilt when the protocol changes (live views then reconnect over it from their cursor) and
 * for each session, so nothing cached with one token (user names) outlives it.
 */
export function ApiProvider({ protocol, token, onUnauthenticated, children }: ApiProviderProps) {
  const api = useMemo<Api>(() => {
    const transport = createTransport(protocol, [bearer(token, onUnauthenticated)]);
    return {
      protocol,
      auth: createClient(AuthService, transport),
      users: createClient(UserService, transport),
      orders: createClient(OrderService, transport),
      chat: createClient(ChatService, transport),
      notifications: createClient(NotificationService, transport),
      health: createClient(Health, transport),
    };
  }, [protocol, token, onUnauthenticated]);
  return <ApiContext.Provider value={api}>{children}</ApiContext.Provider>;
}

export function useApi(): Api {
  const api = useContext(ApiContext);
  if (!api) throw new Error("useApi outside ApiProvider");
  return api;
}
