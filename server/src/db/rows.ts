/**
 * The rows of a `db.execute()` result, whichever driver answered: postgres-js hands back the
 * rows themselves, PGlite a result that holds them in `rows`.
 */
export function rowsOf<T>(result: unknown): T[] {
  return Array.isArray(result) ? (result as T[]) : ((result as { rows?: T[] }).rows ?? []);
}
