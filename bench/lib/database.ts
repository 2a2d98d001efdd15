import postgres from "postgres";

/** The bench's own database next to DATABASE_URL's: created fresh, dropped at the end. */
export interface BenchDatabase {
  readonly url: string;
  readonly name: string;
  /** A small pool on it, for setup and checks (not for measured work). */
  readonly sql: postgres.Sql;
  truncateUsers(): Promise<void>;
  countUsers(): Promise<number>;
  serverVersion(): Promise<string>;
  drop(): Promise<void>;
}

export async function createBenchDatabase(
  baseUrl: string,
  name = "switchboard_bench",
): Promise<BenchDatabase> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bad database name ${name}`);
  const admin = postgres(baseUrl, { max: 1, onnotice: () => {} });
  try {
    // A bench that died half-way leaves its database behind: start from nothing.
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.unsafe(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  const sql = postgres(url.toString(), { max: 2, onnotice: () => {} });
  return {
    url: url.toString(),
    name,
    sql,
    async truncateUsers() {
      // Before a server has run there is no table yet (the server migrates at start).
      const [row] = await sql<{ t: string | null }[]>`select to_regclass('users')::text as t`;
      // Orders and the rest refer to users; the bench creates none of them.
      if (row?.t) await sql.unsafe("truncate users cascade");
    },
    async countUsers() {
      const [row] = await sql<{ n: number }[]>`select count(*)::int as n from users`;
      return row?.n ?? 0;
    },
    async serverVersion() {
      const [row] = await sql<{ v: string }[]>`select current_setting('server_version') as v`;
      return row?.v ?? "?";
    },
    async drop() {
      await sql.end();
      const admin = postgres(baseUrl, { max: 1, onnotice: () => {} });
      try {
        await admin.unsafe(`drop database if exists ${name} with (force)`);
      } finally {
        await admin.end();
      }
    },
  };
}
