/**
 * Pages of a keyset-paged query as one stream, reading one page ahead: the next page is
 * queried while the current one is being sent, so the database and the client work at the
 * same time instead of taking turns. At most two pages are held, whatever the table size.
 */
export async function* keysetPages<Row extends { id: string }>(
  fetchPage: (after: string | undefined) => Promise<Row[]>,
  limit: number,
  after: string | undefined,
): AsyncGenerator<Row[]> {
  let next = fetchPage(after);
  for (;;) {
    const page = await next;
    const last = page.at(-1);
    const more = page.length >= limit && last !== undefined;
    if (more) {
      next = fetchPage(last.id);
      // Awaited on the next turn; if the client leaves first, its outcome no longer matters.
      next.catch(() => {});
    }
    if (page.length > 0) yield page;
    if (!more) return;
  }
}
