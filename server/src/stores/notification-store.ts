import { v7 as uuidv7 } from "uuid";
import type { Db } from "../db/database.ts";
import { type NotificationRow, notifications } from "../db/schema.ts";

export interface NewNotification {
  userId: string;
  title: string;
  body: string;
}

export async function insertNotification(tx: Db, input: NewNotification): Promise<NotificationRow> {
  const [row] = await tx
    .insert(notifications)
    .values({ id: uuidv7(), ...input })
    .returning();
  if (!row) throw new Error("insert returned no row");
  return row;
}
