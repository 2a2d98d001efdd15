// Reproduces what sets ListUsers' peak RSS (README, Performance): reading keyset pages of 500
// rows with the raw `postgres` driver, a quarter of what is allocated survives each scavenge
// and is promoted, while the same loop over pages of the same shape built here promotes almost
// nothing. Each loop runs in a child node with --trace-gc-nvp and the server's own flags; this
// prints the median share of each scavenge's allocation that survived.
//
//   DATABASE_URL=… node bench/driver-promotion.ts [rows]   (rows read per loop and pass, from
//   the users table, round and round: a table of thousands of rows, as the bench fills it)
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { serverNodeArgs } from "./lib/switchboard.ts";

const pageSize = 500;
const startupScavenges = 6;
const columns = `id, name, email, age, version::text as version, role`;
const [mode, rowsArg] = process.argv.slice(2);

/** What a page's consumer does with it: touch every row, as an encoder would. */
function consume(rows: readonly Record<string, unknown>[]): number {
  let bytes = 0;
  for (const row of rows) bytes += JSON.stringify(row).length;
  return bytes;
}

async function viaDriver(total: number): Promise<void> {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error("DATABASE_URL is not set");
  const sql = postgres(url, { max: 2, onnotice: () => {} });
  const page = (after: string) =>
    sql.unsafe(`select ${columns} from users where id > $1 order by id limit ${pageSize}`, [after]);
  const first = "00000000-0000-0000-0000-000000000000";
  let next = page(first);
  for (let read = 0; read < total; ) {
    const rows = await next;
    if (rows.length === 0) throw new Error("the users table is empty");
    read += rows.length;
    // At the table's end, round again from its start.
    if (read < total) next = page(rows.length < pageSize ? first : String(rows.at(-1)?.id));
    consume(rows);
    await new Promise((resolve) => setImmediate(resolve));
  }
  await sql.end();
}

async function viaJavaScript(total: number): Promise<void> {
  // Pages of the same shape, made on the next turn as a query's answer would be.
  const source = Buffer.from("0123456789abcdef-".repeat(64));
  const page = (start: number) =>
    new Promise<Record<string, unknown>[]>((resolve) =>
      setImmediate(() => {
        const rows: Record<string, unknown>[] = [];
        for (let i = 0; i < pageSize; i++) {
          const at = (start + i) % 900;
          rows.push({
            id: source.toString("utf8", at, at + 36),
            name: source.toString("utf8", at, at + 14),
            email: source.toString("utf8", at, at + 30),
            age: i % 60,
            version: "1",
            role: 1,
          });
        }
        resolve(rows);
      }),
    );
  let next = page(0);
  for (let read = 0; read < total; ) {
    const rows = await next;
    read += rows.length;
    if (read < total) next = page(read);
    consume(rows);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

if (mode === "driver" || mode === "javascript") {
  const total = Number(rowsArg);
  await (mode === "driver" ? viaDriver(total) : viaJavaScript(total));
} else {
  const rows = Number(mode ?? 100_000);
  const self = fileURLToPath(import.meta.url);
  for (const loop of ["driver", "javascript"]) {
    // Three passes, so the steady state outweighs the first scavenges.
    const run = spawnSync(
      process.execPath,
      [...serverNodeArgs(), "--trace-gc", "--trace-gc-nvp", self, loop, String(rows * 3)],
      { encoding: "utf8", env: process.env, maxBuffer: 256 << 20 },
    );
    if (run.status !== 0) throw new Error(`${loop}: ${run.stderr || run.stdout}`);
    const shares = run.stdout
      .split("\n")
      .filter((line) => line.includes(" gc=s "))
      .map((line) => Number(/new_space_survive_rate_=([\d.]+)/.exec(line)?.[1]))
      .filter((share) => Number.isFinite(share))
      // The first scavenges are node's start-up (modules loading), not the loop.
      .slice(startupScavenges)
      .sort((a, b) => a - b);
    if (shares.length < 5) throw new Error(`${loop}: too few scavenges to tell; ask for more rows`);
    const median = shares[Math.floor(shares.length / 2)] ?? Number.NaN;
    console.log(
      `${loop === "driver" ? "postgres.js pages" : "pages built in JavaScript"}: ` +
        `${median.toFixed(1)}% of each scavenge's allocation survived (median of ${shares.length} scavenges)`,
    );
  }
}
