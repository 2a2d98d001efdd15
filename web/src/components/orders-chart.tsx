import { timestampDate } from "@bufbuild/protobuf/wkt";
import { useEffect, useState } from "react";
import type { Order, OrderStatus } from "../../../gen/switchboard/v1/order_pb.js";
import { statusClass, statusLabel, statusOrder } from "../order-status-view.ts";

const minutes = 30;

/** Re-renders every `ms`, so a time window slides even when no event arrives. */
function useNow(ms: number): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(timer);
  }, [ms]);
  return now;
}

/** Orders per status as horizontal bars: inline SVG, redrawn from the live table. */
export function StatusChart({ counts }: { counts: ReadonlyMap<OrderStatus, number> }) {
  const max = Math.max(1, ...counts.values());
  const rowHeight = 22;
  const labelWidth = 84;
  const width = 320;
  const barSpace = width - labelWidth - 40;
  const summary = statusOrder.map((s) => `${statusLabel(s)} ${counts.get(s) ?? 0}`).join(", ");
  return (
    <svg
      className="chart"
      role="img"
      aria-label={`Orders per status: ${summary}`}
      viewBox={`0 0 ${width} ${statusOrder.length * rowHeight}`}
      width="100%"
    >
      {statusOrder.map((status, i) => {
        const n = counts.get(status) ?? 0;
        const y = i * rowHeight;
        const w = n === 0 ? 0 : Math.max(3, (n / max) * barSpace);
        return (
          <g key={status} transform={`translate(0 ${y})`}>
            <text x={0} y={rowHeight / 2 + 4} className="chart-label">
              {statusLabel(status)}
            </text>
            <rect
              x={labelWidth}
              y={5}
              width={barSpace}
              height={rowHeight - 10}
              rx={4}
              className="chart-track"
            />
            <rect
              x={labelWidth}
              y={5}
              width={w}
              height={rowHeight - 10}
              rx={4}
              className={`chart-bar bar-${statusClass(status)}`}
            />
            <text x={labelWidth + barSpace + 8} y={rowHeight / 2 + 4} className="chart-value">
              {n}
            </text>
          </g>
        );
      })}
    </svg>
  );
}

/** Orders created per minute over the last half hour, as columns. */
export function PerMinuteChart({ orders }: { orders: readonly Order[] }) {
  const now = useNow(15_000);
  const end = Math.floor(now / 60_000);
  // One bucket per minute, oldest first; each keyed by its minute since the epoch.
  const buckets = Array.from({ length: minutes }, (_, i) => ({ minute: end - minutes + 1 + i, n: 0 }));
  for (const order of orders) {
    if (!order.createTime) continue;
    const minute = Math.floor(timestampDate(order.createTime).getTime() / 60_000);
    const bucket = buckets[minute - (end - minutes + 1)];
    if (bucket) bucket.n++;
  }
  const max = Math.max(1, ...buckets.map((b) => b.n));
  const total = buckets.reduce((sum, b) => sum + b.n, 0);
  const width = 320;
  const height = 104;
  const plot = height - 22;
  const step = width / minutes;
  return (
    <svg
      className="chart"
      role="img"
      aria-label={`Orders created per minute, last ${minutes} minutes: ${total} in all`}
      viewBox={`0 0 ${width} ${height}`}
      width="100%"
    >
      <line x1={0} x2={width} y1={plot + 0.5} y2={plot + 0.5} className="chart-axis" />
      {buckets.map(({ minute, n }, i) => {
        const h = n === 0 ? 0 : Math.max(2, (n / max) * (plot - 14));
        return (
          <rect
            key={minute}
            x={i * step + 1.5}
            y={plot - h}
            width={step - 3}
            height={h}
            rx={2}
            className="chart-column"
          >
            <title>{`${n} order${n === 1 ? "" : "s"}, ${end - minute} min ago`}</title>
          </rect>
        );
      })}
      <text x={0} y={height - 4} className="chart-label">
        {minutes} min ago
      </text>
      <text x={width} y={height - 4} textAnchor="end" className="chart-label">
        now
      </text>
      {total === 0 ? (
        <text x={width / 2} y={plot / 2} textAnchor="middle" className="chart-empty">
          No orders in the last {minutes} minutes
        </text>
      ) : (
        <text x={width} y={10} textAnchor="end" className="chart-label">
          max {max}/min
        </text>
      )}
    </svg>
  );
}
