import type { ConnectRouter } from "@connectrpc/connect";
import { UserService } from "../../gen/switchboard/v1/user_pb.js";
import type { AppContext } from "./context.ts";
import { createUserService } from "./services/user-service.ts";

/** Every service this server answers, each built from the context it needs. */
export function routes(ctx: AppContext): (router: ConnectRouter) => void {
  return (router) => {
    router.service(UserService, createUserService({ db: ctx.database.db, checkMessage: ctx.checkMessage }));
  };
}
