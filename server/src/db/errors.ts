import { Code, ConnectError } from "@connectrpc/connect";

/**
 * The one place where database failures become RPC codes. Drizzle wraps driver errors, and
 * postgres-js and PGlite name the SQLSTATE the same way (`code`), so walk the cause chain.
 */
export function toConnectError(err: unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  const state = sqlState(err);
  switch (state) {
    case "23505":
      return new ConnectError(uniqueViolationMessage(err), Code.AlreadyExists, undefined, undefined, err);
    case "23503":
      return new ConnectError(
        "a referenced record does not exist",
        Code.FailedPrecondition,
        undefined,
        undefined,
        err,
      );
    case "22P02":
    case "22003":
      return new ConnectError(
        "a value is out of range or malformed",
        Code.InvalidArgument,
        undefined,
        undefined,
        err,
      );
    case "40001":
    case "40P01":
      return new ConnectError(
        "conflicting concurrent update, retry",
        Code.Aborted,
        undefined,
        undefined,
        err,
      );
    case "57014":
      return new ConnectError(
        "the database query was cancelled at the deadline",
        Code.DeadlineExceeded,
        undefined,
        undefined,
        err,
      );
    case "57P01":
    case "57P02":
    case "57P03":
    case "53300":
      return new ConnectError("the database is unavailable", Code.Unavailable, undefined, undefined, err);
  }
  if (state?.startsWith("08") || isConnectionFailure(err)) {
    return new ConnectError("the database is unavailable", Code.Unavailable, undefined, undefined, err);
  }
  // Keep the cause for logs; the wire gets no detail of an internal failure.
  return new ConnectError("internal error", Code.Internal, undefined, undefined, err);
}

export function sqlState(err: unknown): string | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

function isConnectionFailure(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (
      typeof code === "string" &&
      /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|CONNECTION_|CONNECT_TIMEOUT)/.test(code)
    ) {
      return true;
    }
  }
  return false;
}

const emailTakenMessage = "a user with this email already exists";

/** What a user created with a taken email gets, whether a unique violation said so or not. */
export function emailTaken(): ConnectError {
  return new ConnectError(emailTakenMessage, Code.AlreadyExists);
}

function uniqueViolationMessage(err: unknown): string {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const constraint =
      (e as { constraint_name?: string; constraint?: string }).constraint_name ??
      (e as { constraint?: string }).constraint;
    if (constraint === "users_email_key") return emailTakenMessage;
  }
  return "the record already exists";
}
