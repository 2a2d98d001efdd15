import { bigint, integer, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";

export const users = pgTable("users", {
  // UUIDv7, made by the server: ordered by creation, so keyset pages by id follow insert order.
  id: uuid("id").primaryKey(),
  name: text("name").notNull(),
  // Stored lower-cased; the unique index is what makes a duplicate ALREADY_EXISTS.
  email: text("email").notNull().unique("users_email_key"),
  age: integer("age").notNull(),
  createTime: timestamp("create_time", { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  updateTime: timestamp("update_time", { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  version: bigint("version", { mode: "number" }).notNull().default(1),
});

export type UserRow = typeof users.$inferSelect;
