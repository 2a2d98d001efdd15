import { type Client, createClient } from "@connectrpc/connect";
import { createContext, type ReactNode, useContext, useMemo } from "react";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { ChatService } from "../../gen/switchboard/v1/chat_pb.js";
import { NotificationService } from "../../gen/switchboard/v1/notification_pb.js";
import { OrderService } from "../../gen/switchboard/v1/order_pb.js";
import { UserService } from "../../gen/switchboard/v1/user_pb.js";
import { createTransport, type Protocol } from "./protocol.ts";

/** One client per service, all on the transport of the chosen protocol. */
export interface Api {
  protocol: Protocol;
  users: Client<typeof UserService>;
  orders: Client<typeof OrderService>;
  chat: Client<typeof ChatService>;
  notifications: Client<typeof NotificationService>;
  health: Client<typeof Health>;
}

const ApiContext = createContext<Api | null>(null);

/** Rebuilt when the protocol changes; live views then reconnect over it from their cursor. */
export function ApiProvider({ protocol, children }: { protocol: Protocol; children: ReactNode }) {
  const api = useMemo<Api>(() => {
    const transport = createTransport(protocol);
    return {
      protocol,
      users: createClient(UserService, transport),
      orders: createClient(OrderService, transport),
      chat: createClient(ChatService, transport),
      notifications: createClient(NotificationService, transport),
      health: createClient(Health, transport),
    };
  }, [protocol]);
  return <ApiContext.Provider value={api}>{children}</ApiContext.Provider>;
}

export function useApi(): Api {
  const api = useContext(ApiContext);
  if (!api) throw new Error("useApi outside ApiProvider");
  return api;
}
