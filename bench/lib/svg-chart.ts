// A small grouped bar chart as standalone SVG text: one group per category (a workload), one bar
// per series (a system) in each, on a linear or log scale, with a legend and value labels.
// No dependencies; the output renders on GitHub and in browsers.

export interface BarChart {
  title: string;
  /** Axis label, e.g. "operations per second". */
  unit: string;
  groups: readonly string[];
  series: readonly { name: string; color: string }[];
  /** values[group][series]; NaN leaves the bar out. */
  values: readonly (readonly number[])[];
  log?: boolean;
  format?: (value: number) => string;
  width?: number;
  height?: number;
}

const FONT = "font-family=\"-apple-system, 'Segoe UI', Helvetica, Arial, sans-serif\"";

export function groupedBarChart(chart: BarChart): string {
  const width = chart.width ?? 760;
  const height = chart.height ?? 360;
  const format = chart.format ?? ((v: number) => v.toLocaleString("en-US", { maximumSignificantDigits: 3 }));
  const margin = { top: 40, right: 16, bottom: 56 + 18 * Math.ceil(chart.series.length / 2), left: 64 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const scale = valueScale(chart.values.flat().filter((v) => Number.isFinite(v) && v > 0), chart.log ?? false, plotH);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="11">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="14" font-weight="600">${escape(chart.title)}</text>`,
    `<text transform="translate(14 ${margin.top + plotH / 2}) rotate(-90)" text-anchor="middle" fill="#555">${escape(chart.unit)}${chart.log ? " (log scale)" : ""}</text>`,
  ];
  for (const tick of scale.ticks) {
    const y = margin.top + plotH - scale.y(tick);
    out.push(`<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${margin.left - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end" fill="#555">${escape(format(tick))}</text>`);
  }
  const groupW = plotW / chart.groups.length;
  const barW = Math.min(28, (groupW * 0.8) / chart.series.length);
  chart.groups.forEach((group, g) => {
    const x0 = margin.left + g * groupW + (groupW - barW * chart.series.length) / 2;
    chart.series.forEach((series, s) => {
      const value = chart.values[g]?.[s] ?? NaN;
      if (!Number.isFinite(value) || value <= 0) return;
      const h = Math.max(1, scale.y(value));
      const x = x0 + s * barW;
      const y = margin.top + plotH - h;
      out.push(`<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${series.color}"><title>${escape(`${series.name}, ${group}: ${format(value)}`)}</title></rect>`);
      out.push(`<text x="${(x + barW / 2 - 1).toFixed(1)}" y="${(y - 3).toFixed(1)}" text-anchor="middle" font-size="9" fill="#333">${escape(format(value))}</text>`);
    });
    out.push(`<text x="${(margin.left + g * groupW + groupW / 2).toFixed(1)}" y="${margin.top + plotH + 16}" text-anchor="middle" font-weight="600">${escape(group)}</text>`);
  });
  out.push(`<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${margin.top + plotH}" y2="${margin.top + plotH}" stroke="#999"/>`);
  chart.series.forEach((series, s) => {
    const x = margin.left + (s % 2) * (plotW / 2);
    const y = margin.top + plotH + 36 + Math.floor(s / 2) * 18;
    out.push(`<rect x="${x}" y="${y - 9}" width="10" height="10" fill="${series.color}"/>`);
    out.push(`<text x="${x + 15}" y="${y}">${escape(series.name)}</text>`);
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}

interface Scale {
  /** Bar height in pixels for a value. */
  y(value: number): number;
  ticks: number[];
}

function valueScale(values: number[], log: boolean, plotH: number): Scale {
  const max = Math.max(...values, 1e-9);
  if (log) {
    const lo = Math.pow(10, Math.floor(Math.log10(Math.min(...values, max))));
    const hi = Math.pow(10, Math.ceil(Math.log10(max * 1.05)));
    const ticks: number[] = [];
    for (let t = lo; t <= hi * 1.0001; t *= 10) ticks.push(t);
    // A bar of the lowest decade still shows: heights start at lo / 2.
    const base = Math.log10(lo) - 0.3;
    return { y: (v) => ((Math.log10(v) - base) / (Math.log10(hi) - base)) * plotH, ticks };
  }
  const step = niceStep(max / 5);
  const top = Math.ceil((max * 1.08) / step) * step;
  const ticks: number[] = [];
  for (let t = 0; t <= top + step / 2; t += step) ticks.push(t);
  return { y: (v) => (v / top) * plotH, ticks };
}

function niceStep(raw: number): number {
  const power = Math.pow(10, Math.floor(Math.log10(raw)));
  const fraction = raw / power;
  return (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10) * power;
}

function escape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
