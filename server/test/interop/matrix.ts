// The interop matrix: every test file records its cells here, and the report is printed and
// written to test-results/interop-matrix.md. `node --test` runs each file in a process of its
// own, so cells are shared through files under test-results/interop/<run>/, one per test file;
// the file that completes the set prints the whole matrix.
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { after, type TestContext, test } from "node:test";
import { authColumns } from "./auth-cases.ts";
import { chatRpcs } from "./chat-cases.ts";
import { orderRpcs } from "./order-cases.ts";
import { repoRoot } from "./paths.ts";

/** The test files that feed the matrix, in report order. */
export const sources = ["buf-curl", "grpc-js", "python-grpcio", "curl", "protocol-errors"] as const;
export type Source = (typeof sources)[number];

/** The report's tables; columns print in this order, unknown ones after them. */
const tables = {
  clients: {
    title: "Client × protocol × RPC kind",
    columns: ["unary", "server stream", "client stream", "bidi"],
  },
  rpcs: {
    title: "Client × OrderService and NotificationService RPC",
    columns: orderRpcs,
  },
  chat: {
    title: "Client × ChatService RPC",
    columns: chatRpcs,
  },
  auth: {
    title: "Client × AuthService RPC and access",
    columns: Object.values(authColumns),
  },
  features: {
    title: "Client features",
    columns: [
      "buf curl (gRPC, h2c)",
      "grpc-js (gRPC, h2c)",
      "Python grpcio (gRPC, h2c)",
      "curl (Connect JSON, HTTP/1.1)",
    ],
  },
  errors: {
    title: "Protocol error answers (per the Connect, gRPC and gRPC-Web specs)",
    columns: ["Connect unary", "Connect stream", "gRPC", "gRPC-Web"],
  },
} as const;
export type Table = keyof typeof tables;

/** Where a cell sits in the report. */
export interface CellRef {
  table: Table;
  /** clients, rpcs, chat and auth: who talks and how ("buf curl · Connect · HTTP/1.1 · --schema");
   * features: the feature; errors: the case. */
  row: string;
  /** clients: the RPC kind; rpcs and chat: the method; auth: the method or the access case;
   * features: the client; errors: the protocol. */
  column: string;
}

type Outcome = "pass" | "FAIL" | "known bug" | "n/a";

/** Every cell takes seconds at most; this only stops a hung one from holding up the run. */
const cellTimeoutMs = 20_000;

interface Cell extends CellRef {
  outcome: Outcome;
  note?: string;
  source: Source;
  seq: number;
}

export interface CellOptions {
  /** A known server bug: the cell still runs and asserts, but its failure doesn't fail the run. */
  knownBug?: string | undefined;
}

const resultsDir = join(repoRoot, "test-results");
const reportFile = join(resultsDir, "interop-matrix.md");
// Files of one `node --test` run are children of the same runner process.
const runId = process.env.NODE_TEST_CONTEXT ? process.ppid : process.pid;
const runDir = join(resultsDir, "interop", `run-${runId}`);

/**
 * The matrix of one test file: `cell` registers a test that records its outcome, `notApplicable`
 * one that records n/a after checking (where it can) that the reason still holds.
 */
export function matrixFor(source: Source) {
  const cells: Cell[] = [];
  const record = (ref: CellRef, outcome: Outcome, note?: string) => {
    // A cell that timed out was recorded when its signal aborted; keep that.
    if (cells.some((c) => c.table === ref.table && c.row === ref.row && c.column === ref.column)) return;
    cells.push({ ...ref, outcome, ...(note ? { note } : {}), source, seq: cells.length });
  };
  // A test that times out never returns to its catch; record it when its signal aborts.
  const onAbort = (t: TestContext, ref: CellRef) =>
    t.signal.addEventListener("abort", () => record(ref, "FAIL", "timed out"), { once: true });
  after(() => report(source, cells));

  return {
    cell(ref: CellRef, fn: (t: TestContext) => Promise<void>, options: CellOptions = {}): void {
      const { knownBug } = options;
      test(`${ref.row} · ${ref.column}`, {
        timeout: cellTimeoutMs,
        ...(knownBug ? { todo: knownBug } : {}),
      }, async (t) => {
        onAbort(t, ref);
        try {
          await fn(t);
          record(ref, "pass");
        } catch (err) {
          record(ref, knownBug ? "known bug" : "FAIL", knownBug);
          throw err;
        }
      });
    },

    notApplicable(ref: CellRef, reason: string, check?: (t: TestContext) => Promise<void>): void {
      test(`${ref.row} · ${ref.column} (n/a: ${reason})`, { timeout: cellTimeoutMs }, async (t) => {
        onAbort(t, ref);
        try {
          await check?.(t);
          record(ref, "n/a", reason);
        } catch (err) {
          record(ref, "FAIL", `n/a no longer holds: ${reason}`);
          throw err;
        }
      });
    },
  };
}

function report(source: Source, own: Cell[]): void {
  mkdirSync(runDir, { recursive: true });
  pruneOldRuns();
  writeFileSync(join(runDir, `${source}.json`), JSON.stringify(own));
  const present = sources.filter((s) => readdirSync(runDir).includes(`${s}.json`));
  const all = present.flatMap((s) => JSON.parse(readFileSync(join(runDir, `${s}.json`), "utf8")) as Cell[]);
  const complete = present.length === sources.length;
  const missing = sources.filter((s) => !present.includes(s));
  const header = complete
    ? "# Interop matrix\n"
    : `# Interop matrix (partial: ${missing.join(", ")} not run)\n`;
  const printed = join(runDir, "printed");
  if (complete && claim(printed)) {
    writeFileSync(reportFile, `${header}\n${render(all)}`);
    console.log(`\n${header}\n${render(all)}\n(written to ${reportFile})`);
  } else if (!complete && !existsSync(printed)) {
    writeFileSync(reportFile, `${header}\n${render(all)}`);
    const counts = Object.entries(Object.groupBy(own, (c) => c.outcome)).map(([k, v]) => `${v?.length} ${k}`);
    console.log(
      `interop matrix: ${source} recorded ${counts.join(", ")}; all of it prints once every file ran`,
    );
  }
}

/** True for the first caller only, across processes. */
function claim(path: string): boolean {
  try {
    closeSync(openSync(path, "wx"));
    return true;
  } catch {
    return false;
  }
}

/** Drops the cells of earlier runs: those whose runner process is gone. */
function pruneOldRuns(): void {
  const parent = join(resultsDir, "interop");
  for (const name of readdirSync(parent)) {
    const pid = Number(/^run-(\d+)$/.exec(name)?.[1]);
    if (pid && pid !== runId && !isAlive(pid)) rmSync(join(parent, name), { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Markdown tables, one per report table, with the notes of n/a and known-bug cells below each. */
function render(cells: Cell[]): string {
  const out: string[] = [];
  for (const [id, spec] of Object.entries(tables) as [Table, (typeof tables)[Table]][]) {
    const mine = cells
      .filter((c) => c.table === id)
      .sort((a, b) => sources.indexOf(a.source) - sources.indexOf(b.source) || a.seq - b.seq);
    if (mine.length === 0) continue;
    const rows = [...new Set(mine.map((c) => c.row))];
    const columns = [
      ...spec.columns.filter((col: string) => mine.some((c) => c.column === col)),
      ...new Set(
        mine.map((c) => c.column).filter((col) => !(spec.columns as readonly string[]).includes(col)),
      ),
    ];
    const notes: string[] = [];
    const text = (c: Cell | undefined) => {
      if (!c) return "—";
      if (!c.note) return c.outcome;
      let n = notes.indexOf(c.note);
      if (n < 0) n = notes.push(c.note) - 1;
      return `${c.outcome} [${n + 1}]`;
    };
    out.push(`## ${spec.title}\n`);
    out.push(`| | ${columns.join(" | ")} |`);
    out.push(`|---|${columns.map(() => "---").join("|")}|`);
    for (const row of rows) {
      const at = (col: string) => mine.find((c) => c.row === row && c.column === col);
      out.push(`| ${row} | ${columns.map((col) => text(at(col))).join(" | ")} |`);
    }
    if (notes.length > 0) out.push("", ...notes.map((note, i) => `[${i + 1}] ${note}`));
    out.push("");
  }
  return out.join("\n");
}
