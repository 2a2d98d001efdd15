import type { DescService } from "@bufbuild/protobuf";
import type { ConnectRouter } from "@connectrpc/connect";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { ServerReflection as ServerReflectionV1 } from "../../gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ServerReflectionV1alpha } from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { AuthService } from "../../gen/switchboard/v1/auth_pb.js";
import { ChatService } from "../../gen/switchboard/v1/chat_pb.js";
import { NotificationService } from "../../gen/switchboard/v1/notification_pb.js";
import { OrderService } from "../../gen/switchboard/v1/order_pb.js";
import { UserService } from "../../gen/switchboard/v1/user_pb.js";
import type { AppContext } from "./context.ts";
import { createGate } from "./gate.ts";
import { createAuthService } from "./services/auth-service.ts";
import { createChatService } from "./services/chat-service.ts";
import { createHealthService } from "./services/health-service.ts";
import type { LiveFeeds } from "./services/live-feeds.ts";
import { createNotificationService } from "./services/notification-service.ts";
import { createOrderService } from "./services/order-service.ts";
import { createReflectionService } from "./services/reflection-service.ts";
import { createUserService } from "./services/user-service.ts";
import { createUserInserts } from "./stores/user-inserts.ts";

/** Every service this server answers, each built from the context it needs. */
export function routes(ctx: AppContext): (router: ConnectRouter) => void {
  return (router) => {
    const feeds: LiveFeeds = {
      db: ctx.database.db,
      bus: ctx.bus,
      maxBuffered: ctx.config.streamBufferEvents,
      pollMs: ctx.config.eventPollMs,
      safetyPollMs: ctx.config.eventSafetyPollMs,
      observeLag: (seconds) => ctx.metrics.busLag.observe(seconds),
      // Half the pool at most for streams' replays: a storm of streams opening at once must not
      // leave unary calls waiting behind hundreds of queued reads.
      gate: createGate(Math.max(1, Math.floor(ctx.database.poolSize / 2))),
    };
    router.service(
      UserService,
      createUserService({
        db: ctx.database.db,
        checkMessage: ctx.checkMessage,
        userCache: ctx.userCache,
        // Half the pool at most for CreateUser's inserts; calls beyond that share statements.
        insertUser: createUserInserts(ctx.database.db, {
          maxInFlight: Math.max(1, Math.floor(ctx.database.poolSize / 2)),
          traced: ctx.telemetry !== undefined,
        }),
        writeMaxBytes: ctx.config.maxMessageBytes,
      }),
    );
    router.service(
      AuthService,
      createAuthService({ db: ctx.database.db, tokens: ctx.tokens, userCache: ctx.userCache }),
    );
    router.service(OrderService, createOrderService(feeds));
    router.service(NotificationService, createNotificationService(feeds));
    router.service(ChatService, createChatService(feeds, ctx.checkMessage, ctx.userCache));

    // The standard services describe whatever this router answers, themselves included. They
    // read the router when called, after registration is complete, so a service registered
    // anywhere in this function is listed, health-checked and reflected with no further step.
    const services = () => registeredServices(router);
    router.service(Health, createHealthService({ monitor: ctx.health, services }));
    router.service(ServerReflectionV1, createReflectionService(ServerReflectionV1, { services }));
    router.service(ServerReflectionV1alpha, createReflectionService(ServerReflectionV1alpha, { services }));
  };
}

/** Each service registered on the router once, in registration order. */
function registeredServices(router: ConnectRouter): DescService[] {
  return [...new Set(router.handlers.map((handler) => handler.service))];
}
