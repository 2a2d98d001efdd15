import { useVirtualizer } from "@tanstack/react-virtual";
import { type ReactNode, useEffect, useRef } from "react";

export interface Column<T> {
  header: string;
  /** A CSS grid track: "minmax(0, 2fr)", "96px", … */
  width: string;
  render(row: T): ReactNode;
  align?: "end";
}

interface VirtualTableProps<T> {
  label: string;
  rows: readonly T[];
  columns: readonly Column<T>[];
  rowKey(row: T): string;
  rowHeight?: number;
  empty: ReactNode;
  /** A row to bring into view and mark (e.g. the one just created). */
  highlight?: string | undefined;
  /**
   * The rows are being replaced (a new search loading): marked aria-busy and dimmed, so
   * neither assistive technology nor a person acts on rows about to go.
   */
  busy?: boolean;
}

/**
 * A native table whose body renders only the rows in view (plus a few), so tens of thousands
 * of rows scroll as smoothly as ten. aria-rowcount and aria-rowindex tell assistive technology
 * the real size and each row's place; rows are grids positioned inside a body as tall as all.
 */
export function VirtualTable<T>({
  label,
  rows,
  columns,
  rowKey,
  rowHeight = 48,
  empty,
  highlight,
  busy = false,
}: VirtualTableProps<T>) {
  const scroller = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => rowHeight,
    overscan: 12,
    getItemKey: (index) => rowKey(rows[index] as T),
  });
  const template = { gridTemplateColumns: columns.map((c) => c.width).join(" ") };

  useEffect(() => {
    if (highlight === undefined) return;
    const index = rows.findIndex((row) => rowKey(row) === highlight);
    if (index >= 0) virtualizer.scrollToIndex(index, { align: "auto" });
  }, [highlight, rows, rowKey, virtualizer]);

  return (
    <div ref={scroller} className={busy ? "vtable is-busy" : "vtable"}>
      <table aria-label={label} aria-rowcount={rows.length + 1} aria-busy={busy || undefined}>
        <thead>
          <tr aria-rowindex={1} style={template}>
            {columns.map((c) => (
              <th key={c.header} scope="col" className={c.align === "end" ? "cell-end" : undefined}>
                {c.header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody style={{ height: rows.length === 0 ? undefined : virtualizer.getTotalSize() }}>
          {rows.length === 0 ? (
            <tr className="vtable-empty">
              <td>{empty}</td>
            </tr>
          ) : (
            virtualizer.getVirtualItems().map((item) => {
              const row = rows[item.index] as T;
              const key = rowKey(row);
              return (
                <tr
                  key={key}
                  aria-rowindex={item.index + 2}
                  className={key === highlight ? "is-highlighted" : undefined}
                  style={{ ...template, height: item.size, transform: `translateY(${item.start}px)` }}
                >
                  {columns.map((c) => (
                    <td key={c.header} className={c.align === "end" ? "cell-end" : undefined}>
                      {c.render(row)}
                    </td>
                  ))}
                </tr>
              );
            })
          )}
        </tbody>
      </table>
    </div>
  );
}
