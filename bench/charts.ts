// Charts for BENCHMARKS.md as Mermaid xychart-beta blocks: text in the markdown that GitHub and
// most viewers draw, nothing to render or commit beside it. Mermaid draws several bar series on
// top of each other, so each chart is one bar series (ours) and one line (what we compare to).
import type { Results, Row } from './report';

export interface Series {
  title: string;
  yLabel: string;
  categories: string[];
  bars: number[];
  line: number[];
}

export function xychart(chart: Series): string {
  const values = [...chart.bars, ...chart.line].filter(Number.isFinite);
  const top = niceMax(Math.max(1e-9, ...values));
  const list = (xs: number[]) =>
    `[${xs.map((x) => (Number.isFinite(x) ? round(x) : 0)).join(', ')}]`;
  return [
    '```mermaid',
    'xychart-beta',
    `  title "${chart.title}"`,
    `  x-axis [${chart.categories.map((c) => `"${c}"`).join(', ')}]`,
    `  y-axis "${chart.yLabel}" 0 --> ${top}`,
    `  bar ${list(chart.bars)}`,
    `  line ${list(chart.line)}`,
    '```',
  ].join('\n');
}

/** Our allocations per second (bars) beside pgbench's transactions per second (line). */
export function throughputChart(results: Results): string | undefined {
  const rows: Row[] = [...results.spread, ...results.hot].filter((r) => r.yardstick);
  if (rows.length === 0) return undefined;
  return xychart({
    title: 'Allocations: ours req/s (bars), pgbench tps (line)',
    yLabel: 'per second',
    categories: rows.map((r) => `${r.ours.scenario} c${r.ours.concurrency}`),
    bars: rows.map((r) => r.ours.load.throughput),
    line: rows.map((r) => r.yardstick?.result.tps ?? NaN),
  });
}

/** Ours / the minimal Koa server doing the same (bars) and the target ratio (line). */
export function minimalServersChart(
  pairs: { label: string; ratio: number; target: number }[],
): string | undefined {
  if (pairs.length === 0) return undefined;
  return xychart({
    title: 'Ours / minimal Koa server (bars), target (line)',
    yLabel: 'ratio',
    categories: pairs.map((p) => p.label),
    bars: pairs.map((p) => p.ratio),
    line: pairs.map((p) => p.target),
  });
}

function round(x: number): number {
  return Math.abs(x) >= 100 ? Math.round(x) : Math.round(x * 100) / 100;
}

/** An axis top of the form 1, 2 or 5 x 10^n at or above the largest value. */
export function niceMax(value: number): number {
  const magnitude = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= value) ?? value;
}
