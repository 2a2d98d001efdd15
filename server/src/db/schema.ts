import { getTableColumns, sql } from "drizzle-orm";
import {
  bigint,
  check,
  customType,
  index,
  integer,
  pgTable,
  primaryKey,
  smallint,
  text,
  timestamp,
  unique,
  uuid,
} from "drizzle-orm/pg-core";

/** bytea as Uint8Array with both drivers (postgres-js hands back a Buffer, a Uint8Array too). */
const bytea = customType<{ data: Uint8Array; driverData: Uint8Array }>({
  dataType: () => "bytea",
});

export const users = pgTable(
  "users",
  {
    // UUIDv7, made by the server: ordered by creation, so keyset pages by id follow insert order.
    id: uuid("id").primaryKey(),
    name: text("name").notNull(),
    // Stored lower-cased; the unique index is what makes a duplicate ALREADY_EXISTS.
    email: text("email").notNull().unique("users_email_key"),
    age: integer("age").notNull(),
    createTime: timestamp("create_time", { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    updateTime: timestamp("update_time", { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    version: bigint("version", { mode: "number" }).notNull().default(1),
    role: text("role", { enum: ["user", "admin"] })
      .notNull()
      .default("user"),
    // scrypt, self-describing (see passwords.ts); null: the user cannot sign in.
    passwordHash: text("password_hash"),
    // Raised by every password change; a session token carries the value it was issued
    // under, so a change ends every session issued before it.
    sessionEpoch: integer("session_epoch").notNull().default(0),
  },
  (t) => [check("users_role_check", sql`${t.role} in ('user', 'admin')`)],
);

/** Every column but the password hash: what reads select, so the hash never leaves the store. */
const { passwordHash: _passwordHash, ...userColumnsWithoutHash } = getTableColumns(users);
export const userColumns = userColumnsWithoutHash;

export type UserRow = Omit<typeof users.$inferSelect, "passwordHash">;
export type Role = UserRow["role"];

export const orders = pgTable(
  "orders",
  {
    id: uuid("id").primaryKey(),
    // RESTRICT: a user with orders cannot be deleted out from under them.
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "restrict" }),
    productId: text("product_id").notNull(),
    quantity: integer("quantity").notNull(),
    // The OrderStatus enum number from the contract.
    status: smallint("status").notNull(),
    idempotencyKey: text("idempotency_key").notNull(),
    createTime: timestamp("create_time", { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    updateTime: timestamp("update_time", { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    version: bigint("version", { mode: "number" }).notNull().default(1),
  },
  // The idempotency guarantee lives here, in the database, so racing retries cannot both insert.
  (t) => [
    unique("orders_user_idempotency_key").on(t.userId, t.idempotencyKey),
    index("orders_user_id_idx").on(t.userId, t.id),
  ],
);

export type OrderRow = typeof orders.$inferSelect;

export const notifications = pgTable(
  "notifications",
  {
    id: uuid("id").primaryKey(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    title: text("title").notNull(),
    body: text("body").notNull(),
    createTime: timestamp("create_time", { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (t) => [index("notifications_user_id_idx").on(t.userId, t.id)],
);

export type NotificationRow = typeof notifications.$inferSelect;

/**
 * The next sequence number of each topic. Taking it (UPDATE … RETURNING) locks the row until
 * the transaction ends, so the writers of one topic commit in sequence order and a reader
 * can never see sequence N+1 before N has committed (design §4). It also keeps each topic's
 * sequence dense, which lets a reader tell a lost bus message from a duplicate.
 */
export const topicHeads = pgTable("topic_heads", {
  topic: text("topic").primaryKey(),
  sequence: bigint("sequence", { mode: "number" }).notNull(),
});

/** Every change a live stream reports, written in the same transaction as the change. */
export const events = pgTable(
  "events",
  {
    topic: text("topic").notNull(),
    sequence: bigint("sequence", { mode: "number" }).notNull(),
    /** What a subscriber may filter on without decoding the payload (e.g. the order's user). */
    key: text("key").notNull().default(""),
    /** The event's message in protobuf binary, as the stream will send it. */
    payload: bytea("payload").notNull(),
    createTime: timestamp("create_time", { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.topic, t.sequence] }),
    // A filtered replay (one user's orders) reads only its own rows.
    index("events_topic_key_sequence_idx").on(t.topic, t.key, t.sequence),
  ],
);

export type EventRow = typeof events.$inferSelect;

/** Chat messages; each is also an event of its room's topic, with the same sequence. */
export const chatMessages = pgTable(
  "chat_messages",
  {
    id: uuid("id").primaryKey(),
    room: text("room").notNull(),
    sequence: bigint("sequence", { mode: "number" }).notNull(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    content: text("content").notNull(),
    createTime: timestamp("create_time", { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (t) => [unique("chat_messages_room_sequence").on(t.room, t.sequence)],
);

export type ChatMessageRow = typeof chatMessages.$inferSelect;
