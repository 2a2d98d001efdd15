import type { DescField } from "@bufbuild/protobuf";
import { TimestampSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { ListUsersResponseSchema, UserSchema } from "../../../gen/switchboard/v1/user_pb.js";
import type { UserListRow } from "../stores/user-store.ts";
import { roleToMessage } from "./user-messages.ts";

/**
 * ListUsers' binary answer written straight from database rows: for each row, the envelope
 * (flags, length) and the bytes `toBinary(ListUsersResponseSchema, …)` would give for it, into
 * one buffer per page, without making the messages. Profiled, making a User and its two
 * Timestamps per row, then encoding each through protobuf-es's writer, was about a third of
 * ListUsers' CPU and most of its garbage.
 *
 * Field numbers and order come from the generated descriptors; a User field this file has no
 * writer for stops the server at start-up, and user-list-wire.test.ts holds the bytes equal
 * to protobuf-es's for the same message (JSON answers still go through the messages).
 */

type FieldWriter = (w: PageWriter, field: DescField, row: UserListRow) => void;

const userFieldWriters: Record<string, FieldWriter> = {
  id: (w, f, row) => w.string(f.number, row.id),
  name: (w, f, row) => w.string(f.number, row.name),
  email: (w, f, row) => w.string(f.number, row.email),
  age: (w, f, row) => w.int32(f.number, row.age),
  createTime: (w, f, row) => w.timestamp(f.number, row.createMs),
  updateTime: (w, f, row) => w.timestamp(f.number, row.updateMs),
  version: (w, f, row) => w.int64Text(f.number, row.version),
  role: (w, f, row) => w.int32(f.number, roleToMessage(row.role)),
};

/** User's fields in declaration order (protobuf-es writes them in that order), each with its writer. */
const userPlan: [DescField, FieldWriter][] = UserSchema.fields.map((field) => {
  const write = userFieldWriters[field.localName];
  if (!write) throw new Error(`switchboard.v1.User.${field.name} has no writer in user-list-wire.ts`);
  return [field, write];
});

const userField = field(ListUsersResponseSchema.fields, "user");
const secondsField = field(TimestampSchema.fields, "seconds");
const nanosField = field(TimestampSchema.fields, "nanos");
if (ListUsersResponseSchema.fields.length !== 1) {
  throw new Error("switchboard.v1.ListUsersResponse has fields user-list-wire.ts does not write");
}

function field(fields: readonly DescField[], localName: string): number {
  const found = fields.find((f) => f.localName === localName);
  if (!found) throw new Error(`no field ${localName}`);
  return found.number;
}

const wireVarint = 0;
const wireLen = 2;
/** Bytes kept for a User's length prefix before its size is known (up to 16 KiB). */
const userLengthRoom = 2;

/** One growing buffer a page is written into. */
class PageWriter {
  buf: Buffer;
  pos = 0;

  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }

  ensure(more: number): void {
    if (this.pos + more <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + more));
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }

  /** An unsigned varint below 2^53. */
  uvarint(value: number): void {
    const buf = this.buf;
    let v = value;
    while (v > 0x7f) {
      buf[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    buf[this.pos++] = v;
  }

  /** Any int64 as two's complement (a negative one takes ten bytes). */
  varint64(value: bigint): void {
    let v = BigInt.asUintN(64, value);
    while (v > 0x7fn) {
      this.buf[this.pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.pos++] = Number(v);
  }

  tag(fieldNo: number, wireType: number): void {
    this.uvarint(fieldNo * 8 + wireType);
  }

  string(fieldNo: number, value: string): void {
    if (value.length === 0) return; // proto3: a default value is not written
    this.ensure(15 + value.length * 3);
    this.tag(fieldNo, wireLen);
    if (value.length * 3 < 0x80) {
      // Its UTF-8 is shorter than 128 bytes whatever it holds: a one-byte length, filled in after.
      const at = this.pos++;
      const n = this.buf.write(value, this.pos);
      this.buf[at] = n;
      this.pos += n;
    } else {
      const n = Buffer.byteLength(value);
      this.uvarint(n);
      this.pos += this.buf.write(value, this.pos);
    }
  }

  int32(fieldNo: number, value: number): void {
    if (value === 0) return;
    this.ensure(15);
    this.tag(fieldNo, wireVarint);
    if (value > 0) this.uvarint(value);
    else this.varint64(BigInt(value));
  }

  int64Text(fieldNo: number, text: string): void {
    if (text === "0") return;
    this.ensure(20);
    this.tag(fieldNo, wireVarint);
    const n = Number(text);
    if (n > 0 && Number.isSafeInteger(n)) this.uvarint(n);
    else this.varint64(BigInt(text));
  }

  /** A google.protobuf.Timestamp of epoch milliseconds, as protobuf-es's timestampFromMs makes it. */
  timestamp(fieldNo: number, ms: number): void {
    // PostgreSQL's 'infinity' timestamps come back as ±Infinity: no Timestamp can hold them.
    if (!Number.isFinite(ms)) throw new Error(`a timestamp of ${ms} cannot be encoded`);
    this.ensure(30);
    this.tag(fieldNo, wireLen);
    const seconds = Math.floor(ms / 1000);
    const nanos = (ms - seconds * 1000) * 1_000_000;
    const at = this.pos++; // at most 17 bytes follow: a one-byte length
    if (seconds !== 0) {
      this.tag(secondsField, wireVarint);
      if (seconds > 0) this.uvarint(seconds);
      else this.varint64(BigInt(seconds));
    }
    if (nanos !== 0) {
      this.tag(nanosField, wireVarint);
      this.uvarint(nanos);
    }
    this.buf[at] = this.pos - at - 1;
  }
}

function varintSize(value: number): number {
  let size = 1;
  for (let v = value; v > 0x7f; v = Math.floor(v / 0x80)) size++;
  return size;
}

/**
 * The envelopes of one page: per row, flags 0, the length, and a ListUsersResponse holding
 * the row's User. A message over `writeMaxBytes` is RESOURCE_EXHAUSTED, as connect-node says it.
 */
export function encodeListUsersEnvelopes(rows: readonly UserListRow[], writeMaxBytes: number): Uint8Array {
  const w = new PageWriter(rows.length * 160 + 64);
  for (const row of rows) {
    w.ensure(5 + 1 + userLengthRoom);
    const envelope = w.pos;
    w.pos += 5;
    w.tag(userField, wireLen);
    const lengthAt = w.pos;
    w.pos += userLengthRoom;
    const userStart = w.pos;
    for (const [f, write] of userPlan) write(w, f, row);
    const userSize = w.pos - userStart;
    const lengthSize = varintSize(userSize);
    if (lengthSize !== userLengthRoom) {
      // Rare (a User under 128 bytes, or over 16 KiB): move it to fit its length prefix.
      w.ensure(lengthSize - userLengthRoom);
      w.buf.copyWithin(lengthAt + lengthSize, userStart, w.pos);
      w.pos += lengthSize - userLengthRoom;
    }
    const end = w.pos;
    w.pos = lengthAt;
    w.uvarint(userSize);
    w.pos = end;
    const messageSize = end - envelope - 5;
    if (messageSize > writeMaxBytes) {
      throw new ConnectError(
        `message size ${messageSize} is larger than configured writeMaxBytes ${writeMaxBytes}`,
        Code.ResourceExhausted,
      );
    }
    w.buf[envelope] = 0;
    w.buf.writeUInt32BE(messageSize, envelope + 1);
  }
  return w.buf.subarray(0, w.pos);
}
