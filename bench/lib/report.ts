import { fmt, median } from "./stats.ts";

/** One side of a comparison: every run's figure, and the label it goes by. */
export interface Side {
  label: string;
  samples: number[];
}

/** One line of the table. */
export interface Figure {
  name: string;
  /** Unit of the sides' figures ("req/s", "rows/s", "ms", "MB"). */
  unit: string;
  /** Switchboard. */
  a: Side;
  /** The reference it is compared with, if any. */
  b?: Side | undefined;
  /** Shown as a → b; omitted when there is no reference. */
  ratio?: number | undefined;
  /** The goal, as text ("≥ 1.0×"), and whether the ratio meets it (undefined: no goal). */
  goal?: string | undefined;
  met?: boolean | undefined;
  note?: string | undefined;
}

/** A throughput comparison (higher is better): ratio = median(a) / median(b), goal: ratio ≥ goal. */
export function throughputFigure(
  name: string,
  unit: string,
  a: Side,
  b: Side,
  goal: number | undefined,
  note?: string,
): Figure {
  const ratio = median(a.samples) / median(b.samples);
  return {
    name,
    unit,
    a,
    b,
    ratio,
    goal: goal === undefined ? undefined : `≥ ${goal.toFixed(1)}×`,
    met: goal === undefined ? undefined : ratio >= goal,
    note,
  };
}

const side = (s: Side | undefined, unit: string) => (s ? `${s.label} ${fmt(median(s.samples))} ${unit}` : "");
const verdict = (f: Figure) => (f.met === undefined ? "" : f.met ? "met" : "NOT MET");

/** The console line of a figure. */
export function line(f: Figure): string {
  const parts = [`${f.name}: ${side(f.a, f.unit)}`];
  if (f.b) parts.push(side(f.b, f.unit));
  if (f.ratio !== undefined) parts.push(`ratio ${f.ratio.toFixed(2)}×`);
  if (f.goal) parts.push(`goal ${f.goal} ${verdict(f)}`);
  const runs = f.a.samples.length > 1 ? ` (medians of ${f.a.samples.length} runs)` : "";
  return `${parts.join(" | ")}${runs}${f.note ? ` — ${f.note}` : ""}`;
}

const cell = (s: string) => s.replaceAll("|", "\\|");
const samples = (s: Side | undefined) => (s ? `${s.samples.map((x) => fmt(x)).join(", ")}` : "");

/** The table as markdown: one row per figure, medians, ratio, goal; the runs' figures below it. */
export function markdownTable(figures: Figure[]): string {
  const rows = [
    "| Figure | Switchboard | Reference | Ratio | Goal | |",
    "|---|---|---|---|---|---|",
    ...figures.map((f) =>
      [
        "",
        cell(f.name),
        cell(side(f.a, f.unit)),
        cell(side(f.b, f.unit)),
        f.ratio === undefined ? "" : `${f.ratio.toFixed(2)}×`,
        cell(f.goal ?? ""),
        verdict(f),
        "",
      ]
        .join(" | ")
        .trim(),
    ),
  ];
  const detail = figures.map(
    (f) =>
      `- ${f.name}: ${f.a.label} [${samples(f.a)}]` +
      (f.b ? `; ${f.b.label} [${samples(f.b)}]` : "") +
      ` ${f.unit}${f.note ? `. ${f.note}` : ""}`,
  );
  return `${rows.join("\n")}\n\nEvery run's figure (medians above):\n\n${detail.join("\n")}\n`;
}
