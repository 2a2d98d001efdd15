import { type DescField, type DescMethod, getOption } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { Access, access, acting_user } from "../../../gen/switchboard/v1/access_pb.js";
import type { Authenticate } from "../auth/authenticate.ts";
import { isAdmin, type Principal, principalKey } from "../auth/principal.ts";
import { checkEachMessage } from "./each-message.ts";
import type { SessionRevocation } from "./session-revocation.ts";

/** The standard services, which probes and tools call without credentials. */
const publicServices = new Set([
  "grpc.health.v1.Health",
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
]);

interface Policy {
  access: Access;
  /** The request field naming the user the call acts as, if any ((switchboard.v1.acting_user)). */
  actingField: DescField | undefined;
}

/**
 * Authentication and the per-call authorization rules, in one place and read from the
 * contract: a method's (switchboard.v1.access) option says who may call it, and a field marked
 * (switchboard.v1.acting_user) may name only the caller unless the caller is an admin. The
 * caller is put in the call's context for the services, whose stores scope rows by owner.
 */
export function authInterceptor(authenticate: Authenticate, revocation?: SessionRevocation): Interceptor {
  const policies = new Map<DescMethod, Policy>();
  const policyOf = (method: DescMethod): Policy => {
    let policy = policies.get(method);
    if (!policy) {
      policy = {
        access: publicServices.has(method.parent.typeName) ? Access.PUBLIC : getOption(method, access),
        actingField: method.input.fields.find((f) => getOption(f, acting_user)),
      };
      policies.set(method, policy);
    }
    return policy;
  };

  return (next) => async (req) => {
    const policy = policyOf(req.method);
    if (policy.access === Access.PUBLIC) return next(req);
    const authorization = req.header.get("authorization");
    const principal = await authenticate(authorization);
    if (policy.access === Access.ADMIN && !isAdmin(principal)) {
      throw new ConnectError(`${req.method.name} is for admins`, Code.PermissionDenied);
    }
    req.contextValues.set(principalKey, principal);
    const field = policy.actingField;
    const res = await (!field || isAdmin(principal)
      ? next(req)
      : next(checkEachMessage(req, (m) => checkActing(field, m, principal))));
    // A stream outlives the check at its start: it ends when the user's session does.
    if (!res.stream || !revocation || principal.userId === undefined) return res;
    const { userId, role } = principal;
    return { ...res, message: revocation.guard({ userId, role }, authorization, res.message) };
  };
}

function checkActing(field: DescField, message: object, principal: Principal): void {
  const value = (message as Record<string, unknown>)[field.localName];
  if (value === undefined || value === "" || value === principal.userId) return;
  throw new ConnectError(`${field.name} must be your own user id (or empty)`, Code.PermissionDenied);
}
