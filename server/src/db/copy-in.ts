import type { PendingQuery, Row, Sql, TransactionSql } from "postgres";

/**
 * `COPY <table> (<columns>) FROM STDIN` (text format) of `lines`, each a row already encoded
 * with copyField(). Resolves once the server has committed the statement to its transaction;
 * rejects with the server's error (a unique violation, say) and then nothing was copied.
 *
 * postgres 3.4.9 never settles the writable when the server rejects the COPY after the last
 * row was sent (porsager/postgres#1173): the error only reaches the query's reject(), which is
 * a no-op once the query has resolved to its stream. So the error is caught there too, and
 * whichever of the two comes first decides.
 */
export async function copyIn(
  sql: Sql | TransactionSql,
  table: string,
  columns: readonly string[],
  lines: string,
): Promise<void> {
  // A tagged call, not unsafe(): the instrumented unsafe() starts its query at once, before
  // writable() could make it a COPY. The transaction around it is what gets counted and traced.
  const statement = statementOf(`copy ${table} (${columns.join(", ")}) from stdin`);
  const query = (sql as Sql)(statement) as PendingQuery<Row[]> & { reject(err: unknown): void };
  let failed: ((err: unknown) => void) | undefined;
  const failure = new Promise<never>((_, reject) => {
    failed = reject;
  });
  const reject = query.reject;
  query.reject = (err) => {
    failed?.(err);
    reject(err);
  };
  const writable = await Promise.race([query.writable(), failure]);
  const finished = new Promise<void>((resolve, reject) => {
    writable.once("finish", resolve);
    writable.once("error", reject);
    writable.end(lines);
  });
  // The settled loser must not surface as an unhandled rejection.
  failure.catch(noop);
  finished.catch(noop);
  await Promise.race([finished, failure]);
}

/**
 * One field in COPY's text format: backslash, tab, newline and carriage return escaped (the
 * delimiter, row end and escape character); everything else goes as it is.
 */
export function copyField(value: string): string {
  return specials.test(value) ? value.replace(specialsAll, escapeChar) : value;
}

/** The same strings object for the same text: postgres-js caches per template by identity. */
function statementOf(text: string): TemplateStringsArray {
  let strings = statements.get(text);
  if (!strings) {
    strings = Object.assign([text], { raw: [text] });
    statements.set(text, strings);
  }
  return strings;
}

const statements = new Map<string, TemplateStringsArray>();
const specials = /[\\\t\n\r]/;
const specialsAll = /[\\\t\n\r]/g;
const escapes: Record<string, string> = { "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r" };
const escapeChar = (c: string) => escapes[c] ?? c;

function noop(): void {}
