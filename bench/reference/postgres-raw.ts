// Reference: the same database work as Switchboard's user RPCs, done directly with the
// `postgres` driver (the one the server uses) on the server's core: what the server's own
// work costs on top. Prints one JSON line like bench/lib/client.ts.
//
//   DATABASE_URL=… node bench/reference/postgres-raw.ts list <expected rows>
//       keyset pages of 500 in id order (as ListUsers reads), each row mapped to an object
//   DATABASE_URL=… node bench/reference/postgres-raw.ts copy <rows> <tag>
//       one COPY … FROM STDIN of `rows` users (ids UUIDv7, as the server makes them)
//   DATABASE_URL=… node bench/reference/postgres-raw.ts insert <calls> <concurrency> <pool size> <tag>
//       one INSERT … RETURNING per user, `concurrency` loops over a pool of `pool size`
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import postgres from "postgres";
import { v7 as uuidv7 } from "uuid";
import { report, startClock, stopClock, type WorkerResult } from "../lib/worker-result.ts";

const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) throw new Error("set DATABASE_URL");
const [mode, ...rest] = process.argv.slice(2);

interface UserObject {
  id: string;
  name: string;
  email: string;
  age: number;
  createTime: Date;
  updateTime: Date;
  version: number;
  role: string;
}

interface UserRecord {
  id: string;
  name: string;
  email: string;
  age: number;
  create_time: Date;
  update_time: Date;
  version: string;
  role: string;
}

const toObject = (r: UserRecord): UserObject => ({
  id: r.id,
  name: r.name,
  email: r.email,
  age: r.age,
  createTime: r.create_time,
  updateTime: r.update_time,
  version: Number(r.version),
  role: r.role,
});

async function list(sql: postgres.Sql, expected: number): Promise<WorkerResult> {
  const started = startClock();
  let rows = 0;
  let checksum = 0;
  let after = "00000000-0000-0000-0000-000000000000";
  for (;;) {
    const page = await sql<UserRecord[]>`
      select id, name, email, age, create_time, update_time, version, role
      from users where id > ${after} order by id limit 500`;
    for (const record of page) {
      const user = toObject(record);
      checksum += user.age;
      rows++;
    }
    const last = page.at(-1);
    if (page.length < 500 || !last) break;
    after = last.id;
  }
  const seconds = stopClock(started);
  const errors: Record<string, number> = {};
  if (rows !== expected) errors[`read ${rows} rows, expected ${expected}`] = 1;
  return { items: rows, seconds, okCalls: checksum > 0 ? 1 : 0, errors };
}

async function copy(sql: postgres.Sql, rows: number, tag: string): Promise<WorkerResult> {
  const started = startClock();
  const writable = await sql`copy users (id, name, email, age) from stdin`.writable();
  async function* lines() {
    for (let i = 0; i < rows; i += 1000) {
      let chunk = "";
      for (let j = i; j < Math.min(rows, i + 1000); j++) {
        chunk += `${uuidv7()}\tBench User ${j}\tcopy-${tag}-${j}@bench.example\t${20 + (j % 60)}\n`;
      }
      yield chunk;
    }
  }
  await pipeline(Readable.from(lines()), writable);
  const seconds = stopClock(started);
  const [row] = await sql<{ n: number }[]>`
    select count(*)::int as n from users where email like ${`copy-${tag}-%`}`;
  const errors: Record<string, number> = {};
  if (row?.n !== rows) errors[`copied ${row?.n} rows, expected ${rows}`] = 1;
  return { items: row?.n ?? 0, seconds, okCalls: 1, errors };
}

async function insert(
  sql: postgres.Sql,
  calls: number,
  concurrency: number,
  tag: string,
): Promise<WorkerResult> {
  const errors: Record<string, number> = {};
  let next = 0;
  let okCalls = 0;
  const started = startClock();
  const loop = async () => {
    for (let i = next++; i < calls; i = next++) {
      try {
        const [record] = await sql<UserRecord[]>`
          insert into users (id, name, email, age)
          values (${uuidv7()}, ${`Bench User ${i}`}, ${`insert-${tag}-${i}@bench.example`}, ${20 + (i % 60)})
          returning id, name, email, age, create_time, update_time, version, role`;
        if (record && toObject(record).id) okCalls++;
      } catch (err) {
        const what = (err as Error).message;
        errors[what] = (errors[what] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  const seconds = stopClock(started);
  return { items: okCalls, seconds, okCalls, errors };
}

const poolSize = mode === "insert" ? Number(rest[2]) : 1;
const sql = postgres(databaseUrl, { max: poolSize, onnotice: () => {} });
// Open the pool before the clock starts, as the server's is open before it is measured.
await Promise.all(Array.from({ length: poolSize }, () => sql`select 1`));
let result: WorkerResult;
switch (mode) {
  case "list":
    result = await list(sql, Number(rest[0]));
    break;
  case "copy":
    result = await copy(sql, Number(rest[0]), rest[1] ?? "x");
    break;
  case "insert":
    result = await insert(sql, Number(rest[0]), Number(rest[1]), rest[3] ?? "x");
    break;
  default:
    throw new Error(`unknown mode ${mode}`);
}
await sql.end();
report(result);
process.exitCode = Object.keys(result.errors).length === 0 ? 0 : 1;
