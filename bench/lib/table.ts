// Plain-text output for the benchmarks: a header describing the machine, aligned tables and
// number formatting (microseconds with sensible precision, ratios as "N× faster / slower").
import os from "node:os";

export interface Column {
  header: string;
  /** @default "right", except for the first column, which defaults to "left" */
  align?: "left" | "right";
}

/** A row of cells, a horizontal rule, or a section title spanning the table. */
export type Row = readonly string[] | { rule: true } | { section: string };

/** Renders rows under headers, columns padded to their widest cell, separated by two spaces. */
export function renderTable(columns: readonly Column[], rows: readonly Row[]): string {
  const widths = columns.map((column) => column.header.length);
  for (const row of rows) {
    if (!Array.isArray(row)) continue;
    (row as readonly string[]).forEach((cell, i) => {
      if (i < widths.length) widths[i] = Math.max(widths[i]!, cell.length);
    });
  }
  const total = widths.reduce((sum, width) => sum + width, 0) + 2 * (widths.length - 1);
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => ((columns[i]?.align ?? (i === 0 ? "left" : "right")) === "left" ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join("  ")
      .trimEnd();
  const out = [line(columns.map((column) => column.header)), "─".repeat(total)];
  for (const row of rows) {
    if (Array.isArray(row)) out.push(line(row as readonly string[]));
    else if ("rule" in row) out.push("─".repeat(total));
    else out.push((row as { section: string }).section);
  }
  return out.join("\n");
}

/** Title, date, Node version and machine: the first lines of every benchmark's output. */
export function header(title: string, extra: Record<string, string> = {}): string {
  const cpus = os.cpus();
  const facts: Record<string, string> = {
    date: new Date().toISOString(),
    node: `${process.version} (V8 ${process.versions.v8})`,
    platform: `${process.platform} ${os.release()} ${process.arch}`,
    cpu: `${cpus[0]?.model.trim() ?? "unknown"} × ${cpus.length}`,
    load: `${os.loadavg().map((l) => l.toFixed(2)).join(" ")} (1/5/15 min; above the core count, expect noisy tails)`,
    ...extra,
  };
  const width = Math.max(...Object.keys(facts).map((key) => key.length));
  return [title, "=".repeat(title.length), ...Object.entries(facts).map(([key, value]) => `${key.padEnd(width)}  ${value}`)].join("\n");
}

/** Microseconds with three significant digits (at least), thousands separated: 0.412, 3.21, 412, 1,234. */
export function micros(value: number): string {
  if (!Number.isFinite(value)) return "–";
  if (value >= 1000) return Math.round(value).toLocaleString("en-US");
  if (value >= 100) return value.toFixed(0);
  if (value >= 10) return value.toFixed(1);
  if (value >= 1) return value.toFixed(2);
  return value.toFixed(3);
}

/** A plain multiplier: 1.23×, 12.3×, 123×. */
export function times(ratio: number): string {
  if (!Number.isFinite(ratio)) return "–";
  if (ratio >= 100) return `${Math.round(ratio).toLocaleString("en-US")}×`;
  if (ratio >= 10) return `${ratio.toFixed(1)}×`;
  return `${ratio.toFixed(2)}×`;
}

/** How `value` compares with `baseline` (both durations): "123× faster", "1.23× slower" or "same". */
export function versus(value: number, baseline: number): string {
  if (!Number.isFinite(value) || !Number.isFinite(baseline) || value <= 0 || baseline <= 0) return "–";
  if (value === baseline) return "same";
  return value < baseline ? `${times(baseline / value)} faster` : `${times(value / baseline)} slower`;
}
