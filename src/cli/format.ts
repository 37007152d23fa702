// Plain-text output for the CLI: aligned tables, percentages, counts and short argument summaries.

/** Renders rows under headers; the first column is left-aligned, the others right-aligned unless listed in `left`. */
export function table(headers: readonly string[], rows: ReadonlyArray<readonly string[]>, left: ReadonlySet<number> = new Set([0])): string {
  const widths = headers.map((header, i) => Math.max(header.length, ...rows.map((row) => (row[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (left.has(i) ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(headers), widths.map((width) => "─".repeat(width)).join("  "), ...rows.map(line)].join("\n");
}

export function percent(fraction: number): string {
  return Number.isFinite(fraction) ? `${(fraction * 100).toFixed(1)} %` : "–";
}

export function count(value: number | undefined): string {
  return value === undefined ? "–" : value.toLocaleString("en-US");
}

export function millis(value: number | undefined): string {
  if (value === undefined) return "–";
  return value >= 100 ? `${value.toFixed(0)} ms` : `${value.toFixed(1)} ms`;
}

/** A duration for people: milliseconds below a second (0.4 ms, 12 ms, 850 ms), seconds above (1.3 s, 42 s). */
export function duration(ms: number): string {
  if (ms < 1_000) return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
  return ms < 60_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}

/** Query arguments as short JSON: bigints as 12n, bytes as <n bytes>, long output cut with an ellipsis. */
export function describeArgs(args: unknown, max = 70): string {
  if (args === undefined) return "{}";
  const text = JSON.stringify(args, (_key, value: unknown) => {
    if (typeof value === "bigint") return `${value}n`;
    if (value instanceof Uint8Array) return `<${value.length} bytes>`;
    return value;
  });
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/**
 * A recorded query's arguments with its cache option, which comes first: reads that differ only
 * in it are separate queries, and a cut at `max` characters would hide it at the end (outside
 * probe 175: three rows of `top` read alike).
 */
export function describeQuery(args: unknown, cache: unknown, max = 70): string {
  return describeArgs(cache === undefined ? args : { cache, ...(args as object | undefined) }, max);
}

/** `User.findUnique` as application code spells it: `user.findUnique`. */
export function callName(model: string, operation: string): string {
  return `${model.charAt(0).toLowerCase()}${model.slice(1)}.${operation}`;
}
