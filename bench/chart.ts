// docs/bench.svg: throughput and p99 by concurrency, ours beside the yardstick, drawn by hand.
import type { Results, Row } from './report';

interface Group {
  /** Lines under the bars: scenario, concurrency, and a note (the ratio) if any. */
  label: string[];
  ours: number;
  yardstick: number | undefined;
}

const OURS = '#2563eb';
const YARDSTICK = '#9ca3af';
const PANEL_W = 470;
const PANEL_H = 320;
const MARGIN = { top: 50, right: 16, bottom: 56, left: 64 };

export function chartSvg(results: Results): string {
  const rows: Row[] = [...results.spread, ...results.hot];
  const label = (row: Row) => [row.ours.scenario, `c${row.ours.concurrency}`];
  const throughput = rows.map((row) => ({
    label: [
      ...label(row),
      row.yardstick ? `${(row.ours.load.throughput / row.yardstick.result.tps).toFixed(2)} x` : '',
    ],
    ours: row.ours.load.throughput,
    yardstick: row.yardstick?.result.tps,
  }));
  const p99 = rows.map((row) => ({
    label: label(row),
    ours: row.ours.load.latency.p99,
    yardstick: row.yardstick?.result.latency?.p99,
  }));
  const width = PANEL_W * 2;
  const height = PANEL_H + 40;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
      `viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    panel(throughput, 0, 'Throughput (req/s; yardstick: tps)', 0),
    panel(p99, PANEL_W, 'p99 latency (ms)', 1),
    legend(width / 2 - 150, PANEL_H + 18),
    `<text x="8" y="${height - 8}" fill="#6b7280" font-size="10">` +
      'under each group: ours / yardstick throughput</text>',
    `<text x="${width - 8}" y="${height - 8}" text-anchor="end" fill="#6b7280" font-size="10">` +
      `${escape(results.machine.date)}, ${results.machine.cpus} CPUs, ${escape(results.machine.commit)}</text>`,
    '</svg>',
    '',
  ].join('\n');
}

function panel(groups: Group[], x0: number, title: string, digits: number): string {
  const plotW = PANEL_W - MARGIN.left - MARGIN.right;
  const plotH = PANEL_H - MARGIN.top - MARGIN.bottom;
  const values = groups.flatMap((g) => [g.ours, g.yardstick ?? 0]).filter(Number.isFinite);
  const { max, step } = niceScale(Math.max(1e-9, ...values));
  const y = (v: number) => MARGIN.top + plotH - (Math.min(v, max) / max) * plotH;
  const out: string[] = [`<g transform="translate(${x0},0)">`];
  out.push(
    `<text x="${PANEL_W / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">` +
      `${escape(title)}</text>`,
  );
  const decimals = Math.max(0, -Math.floor(Math.log10(step)));
  for (let i = 0; i * step <= max + step / 2; i++) {
    const v = i * step;
    out.push(
      `<line x1="${MARGIN.left}" x2="${PANEL_W - MARGIN.right}" y1="${y(v)}" y2="${y(v)}" ` +
        `stroke="#e5e7eb"/>`,
      `<text x="${MARGIN.left - 6}" y="${y(v) + 4}" text-anchor="end" fill="#374151">` +
        `${formatTick(v, decimals)}</text>`,
    );
  }
  const slot = plotW / Math.max(1, groups.length);
  const bar = Math.min(28, (slot - 12) / 2);
  groups.forEach((g, i) => {
    const cx = MARGIN.left + slot * i + slot / 2;
    const bars: [number | undefined, string, number][] = [
      [g.ours, OURS, cx - bar],
      [g.yardstick, YARDSTICK, cx],
    ];
    for (const [value, color, x] of bars) {
      if (value === undefined || !Number.isFinite(value)) continue;
      const top = y(value);
      out.push(
        `<rect x="${x.toFixed(1)}" y="${top.toFixed(1)}" width="${bar.toFixed(1)}" ` +
          `height="${(MARGIN.top + plotH - top).toFixed(1)}" fill="${color}"/>`,
        `<text x="${(x + bar / 2).toFixed(1)}" y="${(top - 4).toFixed(1)}" text-anchor="middle" ` +
          `font-size="10" fill="#111827">${value.toFixed(digits)}</text>`,
      );
    }
    g.label.forEach((line, n) => {
      const color = n === 2 ? OURS : '#111827';
      out.push(
        `<text x="${cx.toFixed(1)}" y="${MARGIN.top + plotH + 16 + n * 14}" ` +
          `text-anchor="middle" fill="${color}">${escape(line)}</text>`,
      );
    });
  });
  out.push(
    `<line x1="${MARGIN.left}" x2="${PANEL_W - MARGIN.right}" y1="${MARGIN.top + plotH}" ` +
      `y2="${MARGIN.top + plotH}" stroke="#111827"/>`,
    '</g>',
  );
  return out.join('\n');
}

function legend(x: number, y: number): string {
  return [
    `<rect x="${x}" y="${y - 10}" width="12" height="12" fill="${OURS}"/>`,
    `<text x="${x + 18}" y="${y}">ours (HTTP, service)</text>`,
    `<rect x="${x + 160}" y="${y - 10}" width="12" height="12" fill="${YARDSTICK}"/>`,
    `<text x="${x + 178}" y="${y}">yardstick (pgbench)</text>`,
  ].join('\n');
}

/** An axis maximum and tick step of the form 1, 2 or 5 x 10^n, about five ticks. */
export function niceScale(maxValue: number): { max: number; step: number } {
  const rough = maxValue / 5;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= rough) ?? rough;
  return { max: Math.ceil(maxValue / step) * step, step };
}

function formatTick(v: number, decimals: number): string {
  if (v >= 1000) return `${(v / 1000).toFixed(v % 1000 === 0 ? 0 : 1)}k`;
  return v.toFixed(decimals);
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
