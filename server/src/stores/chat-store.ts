import type { Db } from "../db/database.ts";
import { type ChatMessageRow, chatMessages } from "../db/schema.ts";

export async function insertChatMessage(tx: Db, row: ChatMessageRow): Promise<void> {
  await tx.insert(chatMessages).values(row);
}
