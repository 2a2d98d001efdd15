import { setImmediate as nextTurn } from "node:timers/promises";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { StatusSchema } from "../../../gen/google/rpc/status_pb.js";
import {
  type BatchCreateUsersFailure,
  BatchCreateUsersFailureSchema,
  BatchCreateUsersRequestSchema,
  type BatchCreateUsersResponse,
  BatchCreateUsersResponseSchema,
  type CreateUserRequest,
  type DeleteUserRequest,
  type GetUserRequest,
  ListUsersResponseSchema,
  type UpdateUserRequest,
  type User,
  type UserService,
  type UserStreamRequest,
  UserStreamRequestSchema,
  type UserStreamResponse,
  UserStreamResponseSchema,
} from "../../../gen/switchboard/v1/user_pb.js";
import { hashPassword } from "../auth/passwords.ts";
import { isAdmin, principalOf, visibleOwner } from "../auth/principal.ts";
import type { Db } from "../db/database.ts";
import { withDeadline } from "../db/deadline.ts";
import { toConnectError } from "../db/errors.ts";
import type { UserRow } from "../db/schema.ts";
import { itemBatcher } from "../response-batch.ts";
import { type ImportOutcome, startUserImport } from "../stores/user-import.ts";
import type { InsertUser } from "../stores/user-inserts.ts";
import type { UserListRow } from "../stores/user-store.ts";
import * as store from "../stores/user-store.ts";
import type { UserCache } from "../user-cache.ts";
import type { CheckMessage } from "../validation.ts";
import { keysetPages } from "./keyset-pages.ts";
import { encodeListUsersEnvelopes } from "./user-list-wire.ts";
import {
  createGetUserResponses,
  roleFromMessage,
  userListRowToMessage,
  userToMessage,
} from "./user-messages.ts";

export interface UserServiceDeps {
  db: Db;
  checkMessage: CheckMessage;
  /** GetUser reads through it; updates and deletes refresh it before they answer. */
  userCache: UserCache;
  /** CreateUser's writes (user-inserts.ts: concurrent calls may share a statement). */
  insertUser: InsertUser;
  /** MAX_MESSAGE_BYTES: ListUsers writes its binary answers itself (user-list-wire.ts). */
  writeMaxBytes: number;
}

/** Users per database write while a BatchCreateUsers stream is read. */
export const batchSize = 5000;
/** BatchCreateUsers lets I/O run after this many items (measured: 250 cut a 100k import by ~20%). */
const yieldEvery = 256;
/** BatchCreateUsersResponse lists at most this many users and failures; the counts cover all. */
export const batchReportLimit = 1000;
const defaultPageSize = 500;

/**
 * UserService speaks RPC: it maps messages to store calls and outcomes to codes. Request
 * rules are enforced by the validation interceptor for single-message requests, and here,
 * per item, for the streams, so that one bad item never ends a stream.
 */
export function createUserService(deps: UserServiceDeps): ServiceImpl<typeof UserService> {
  const { db, checkMessage, userCache, insertUser } = deps;
  // A page goes out as one write (response-batch.ts), its binary form written from the rows.
  const listBatch = itemBatcher(
    ListUsersResponseSchema,
    (rows: readonly UserListRow[]) => encodeListUsersEnvelopes(rows, deps.writeMaxBytes),
    (row) => create(ListUsersResponseSchema, { user: userListRowToMessage(row) }),
  );
  const getUserResponse = createGetUserResponses();

  async function createOne(req: CreateUserRequest, ctx: HandlerContext): Promise<User> {
    // CreateUser is admin-only by the contract; UserStream's create operation is checked here.
    if (!isAdmin(principalOf(ctx)))
      throw new ConnectError("creating users is for admins", Code.PermissionDenied);
    const passwordHash = req.password ? await hashPassword(req.password) : undefined;
    const row = await insertUser(
      { name: req.name, email: req.email, age: req.age, role: roleFromMessage(req.role), passwordHash },
      ctx,
    );
    return userToMessage(row);
  }

  /** A user sees and changes only their own row; anyone else's reads as absent (NOT_FOUND). */
  function checkVisible(ctx: HandlerContext, id: string): void {
    const owner = visibleOwner(ctx);
    if (owner !== undefined && owner !== id) throw notFound(id);
  }

  async function getRow(req: GetUserRequest, ctx: HandlerContext): Promise<UserRow> {
    checkVisible(ctx, req.id);
    const row = await userCache.get(req.id, () => withDeadline(db, ctx, (tx) => store.getUser(tx, req.id)));
    if (!row) throw notFound(req.id);
    return row;
  }

  async function getOne(req: GetUserRequest, ctx: HandlerContext): Promise<User> {
    return userToMessage(await getRow(req, ctx));
  }

  async function updateOne(req: UpdateUserRequest, ctx: HandlerContext): Promise<User> {
    const user = req.user;
    if (!user) throw new ConnectError("user is required", Code.InvalidArgument);
    checkVisible(ctx, user.id);
    const paths = new Set(req.updateMask?.paths ?? []);
    // Mass assignment: the mask may name only the fields the caller's role may set.
    if (paths.has("role") && !isAdmin(principalOf(ctx))) {
      throw new ConnectError("update_mask path role may be set only by an admin", Code.PermissionDenied);
    }
    const patch: store.UserPatch = {};
    if (paths.has("role")) patch.role = roleFromMessage(user.role);
    if (paths.has("name")) patch.name = user.name;
    if (paths.has("email")) patch.email = user.email;
    if (paths.has("age")) patch.age = user.age;
    const expected = req.expectedVersion === undefined ? undefined : Number(req.expectedVersion);
    const result = await withDeadline(db, ctx, (tx) => store.updateUser(tx, user.id, patch, expected));
    switch (result.kind) {
      case "updated":
        await userCache.updated(result.user);
        return userToMessage(result.user);
      case "not_found":
        throw notFound(user.id);
      case "stale":
        throw new ConnectError(
          `user ${user.id} is at version ${result.currentVersion}, not the expected ${expected}`,
          Code.Aborted,
        );
    }
  }

  async function deleteOne(req: DeleteUserRequest, ctx: HandlerContext): Promise<void> {
    checkVisible(ctx, req.id);
    const deleted = await withDeadline(db, ctx, (tx) => store.deleteUser(tx, req.id));
    if (!deleted) throw notFound(req.id);
    await userCache.deleted(req.id);
  }

  async function answer(req: UserStreamRequest, ctx: HandlerContext): Promise<UserStreamResponse> {
    const requestId = req.requestId;
    try {
      const invalid = checkMessage(UserStreamRequestSchema, req);
      if (invalid) throw invalid;
      const op = req.operation;
      switch (op.case) {
        case "create":
          return create(UserStreamResponseSchema, {
            requestId,
            result: { case: "user", value: await createOne(op.value, ctx) },
          });
        case "get":
          return create(UserStreamResponseSchema, {
            requestId,
            result: { case: "user", value: await getOne(op.value, ctx) },
          });
        case "update":
          return create(UserStreamResponseSchema, {
            requestId,
            result: { case: "user", value: await updateOne(op.value, ctx) },
          });
        case "delete":
          await deleteOne(op.value, ctx);
          return create(UserStreamResponseSchema, { requestId, result: { case: "deleted", value: {} } });
        default:
          throw new ConnectError("operation is required", Code.InvalidArgument);
      }
    } catch (err) {
      const ce = toConnectError(err);
      // A failure of the server itself ends the stream; a client mistake is answered in band.
      if (ce.code === Code.Internal || ce.code === Code.Unavailable || ctx.signal.aborted) throw ce;
      return create(UserStreamResponseSchema, {
        requestId,
        result: { case: "error", value: create(StatusSchema, { code: ce.code, message: ce.rawMessage }) },
      });
    }
  }

  return {
    async createUser(req, ctx) {
      return { user: await createOne(req, ctx) };
    },

    async getUser(req, ctx) {
      return getUserResponse(await getRow(req, ctx));
    },

    async updateUser(req, ctx) {
      return { user: await updateOne(req, ctx) };
    },

    async deleteUser(req, ctx) {
      await deleteOne(req, ctx);
      return {};
    },

    async *listUsers(req, ctx) {
      const limit = req.pageSize > 0 ? req.pageSize : defaultPageSize;
      // A user lists only themselves; an admin everyone.
      const only = visibleOwner(ctx);
      const pages = (after: string | undefined) =>
        withDeadline(db, ctx, (tx) => store.listUsersPage(tx, { after, query: req.query, limit, only }));
      for await (const page of keysetPages(pages, limit, req.after)) yield listBatch(page);
    },

    async batchCreateUsers(requests, ctx) {
      const report = create(BatchCreateUsersResponseSchema);
      const fail = (index: number, code: Code, reason: string) => {
        report.failureCount++;
        if (report.failures.length < batchReportLimit) {
          report.failures.push(create(BatchCreateUsersFailureSchema, { index, code, reason }));
        }
      };
      const importing = startUserImport();
      const write = async (batch: PendingBatch) => {
        const positions = [...batch.values()];
        const wanted = batchReportLimit - report.users.length;
        let outcome: ImportOutcome;
        try {
          outcome = await withDeadline(db, ctx, (tx) =>
            importing.write(
              tx,
              positions.map((p) => p.item),
              wanted,
            ),
          );
        } catch (err) {
          throw toConnectError(err);
        }
        for (const at of outcome.skipped) {
          const skipped = positions[at];
          if (skipped) fail(skipped.index, Code.AlreadyExists, "a user with this email already exists");
        }
        report.successCount += outcome.created;
        for (const row of outcome.rows) report.users.push(userToMessage(row));
      };
      // One batch is written while the next is read: the database and the decoding of the
      // stream work at once. Batches are written in order, each after the last has settled,
      // so the first of two items with one email is always the one created.
      let writing: Promise<void> | undefined;
      const flush = async (batch: PendingBatch) => {
        await writing;
        if (batch.size === 0) return;
        writing = write(batch);
        // Handled here so that a failure while the next batch is read is not "unhandled"; it
        // is thrown where the write is next awaited.
        writing.catch(() => {});
      };
      // Pending items keyed by normalised email: a repeat within the batch fails at once.
      let pending: PendingBatch = new Map();
      try {
        let index = 0;
        for await (const req of requests) {
          const i = index++;
          // Items already received are decoded in one go, without a turn of the event loop,
          // and the database's replies to the batch being written would wait behind them.
          if (i % yieldEvery === yieldEvery - 1) await nextTurn();
          const invalid = checkMessage(BatchCreateUsersRequestSchema, req);
          if (invalid) {
            fail(i, invalid.code, invalid.rawMessage);
            continue;
          }
          const email = store.normalizeEmail(req.email);
          const earlier = pending.get(email);
          if (earlier) {
            fail(i, Code.AlreadyExists, `email repeats item ${earlier.index}`);
            continue;
          }
          pending.set(email, { index: i, item: { name: req.name, email, age: req.age } });
          if (pending.size >= batchSize) {
            await flush(pending);
            pending = new Map();
          }
        }
        // Node ends an HTTP/2 request body on RST_STREAM as if the client had half-closed, and
        // only a moment later aborts the signal; let that moment pass before trusting the end.
        // A broken import keeps the batches already written and drops this partial one.
        await new Promise((resolve) => setImmediate(resolve));
        if (ctx.signal.aborted) throw ConnectError.from(ctx.signal.reason ?? "stream broken", Code.Canceled);
        await flush(pending);
        await writing;
      } catch (err) {
        // The batch being written is left to finish (its failure, if any, is this one's).
        await writing?.catch(() => {});
        throw err;
      }
      report.failures.sort((a: BatchCreateUsersFailure, b: BatchCreateUsersFailure) => a.index - b.index);
      return report satisfies BatchCreateUsersResponse;
    },

    async *userStream(requests, ctx) {
      for await (const req of requests) yield await answer(req, ctx);
    },
  };
}

/** A BatchCreateUsers batch: by normalised email, each item with its position in the stream. */
type PendingBatch = Map<string, { index: number; item: store.NewUser }>;

function notFound(id: string): ConnectError {
  return new ConnectError(`user ${id} not found`, Code.NotFound);
}
