// One run's results as markdown tables that read as plain text too: printed by every run, and
// written to BENCHMARKS.md (with what it ran on) after a full one.
import type { Measurement } from './measure';
import type { Results, Row } from './run';
import { int, ms, ratio, type Target, x } from './targets';

/** A markdown table with padded columns, numbers right-aligned. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(3, h.length, ...rows.map((r) => r[i].length)));
  const numeric = headers.map((_, i) => rows.every((r) => /^[-\d.,x <=%()/]*$/.test(r[i])));
  const pad = (c: string, i: number) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]));
  const line = (cells: string[]) => `| ${cells.map(pad).join(' | ')} |`;
  const rule = widths.map((w, i) => (numeric[i] ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w)));
  return [line(headers), `| ${rule.join(' | ')} |`, ...rows.map(line)].join('\n');
}

const HTTP_HEADERS = ['run', 'c', 'per s', 'p50 ms', 'p99 ms', 'errors', 'RSS MB'].concat([
  'service ms',
  'postgres ms',
  'pg write tx',
  'load gen ms',
  'others (cores)',
  'ratio',
]);

/** CPU and write transactions per request (ours) or per transaction (pgbench). */
function httpRow(m: Measurement, ratioText = '-'): string[] {
  const { load, rss, cpu } = m;
  const per = (v = NaN) =>
    Number.isFinite(v / load.requests) ? (v / load.requests).toFixed(3) : '-';
  const procs = rss && rss.processes > 1 ? ` (${rss.processes})` : '';
  return [
    ...[m.scenario, String(m.concurrency), int(load.throughput)],
    ...[ms(load.latency.p50), ms(load.latency.p99), String(load.non2xx + load.errors)],
    rss ? `${int(rss.totalMb)}${procs}` : '-',
    ...[per(cpu?.serviceMs), per(cpu?.postgresMs), per(m.writeTransactions), per(cpu?.benchMs)],
    cpu ? (cpu.otherMs / 1000 / cpu.seconds).toFixed(2) : '-',
    ratioText,
  ];
}

/** Ours (ratio: to the yardstick's tps, or to the first API_WORKERS), each yardstick once. */
function httpTable(r: Results): string | undefined {
  const rows: Row[] = [
    ...(r.healthz ? [{ ours: r.healthz }] : []),
    ...r.spread,
    ...r.hot,
    ...(r.history?.rows ?? []),
    ...(r.read ? [r.read] : []),
    ...(r.allocated ? [r.allocated.row] : []),
    ...(r.hotFresh ? [r.hotFresh.fresh, r.hotFresh.again, r.hotFresh.vacuumed] : []).map(
      (ours) => ({ ours }),
    ),
  ];
  const seen = new Set<Measurement>();
  const lines = rows.flatMap(({ ours, yardstick }) => {
    const line = httpRow(ours, yardstick && x(ratio({ ours, yardstick })));
    if (!yardstick || seen.has(yardstick)) return [line];
    seen.add(yardstick);
    return [line, httpRow(yardstick)];
  });
  for (const m of r.minimal) {
    const ours = { ...m.ours, scenario: `${m.ours.scenario}, turns with ${m.server}` };
    lines.push(httpRow(ours, x(m.ratio)), httpRow(m.theirs));
  }
  const [first] = r.workers ?? [];
  for (const run of r.workers ?? []) {
    for (const m of run.measurements) {
      const base = first.measurements.find((b) => b.concurrency === m.concurrency);
      const vs = run !== first && base ? x(m.load.throughput / base.load.throughput) : undefined;
      lines.push(httpRow(m, vs));
    }
  }
  return lines.length > 0 ? table(HTTP_HEADERS, lines) : undefined;
}

/** The targets, then every HTTP run (notes.md says how each was measured), then the service log. */
export function report(r: Results, targets: Target[]): string {
  const verdicts = { true: 'met', false: '**not met**', undefined: 'not measured' };
  const verdict = (t: Target) => (t.requirement ? verdicts[`${t.met}`] : '-');
  const targetRows = targets.map((t) => [t.name, t.requirement ?? '-', t.measured, verdict(t)]);
  const log = new Map<string, number>();
  for (const line of r.serviceLog) {
    const key = /"msg":"([^"]*)"/.exec(line)?.[1] ?? line.slice(0, 200);
    log.set(key, (log.get(key) ?? 0) + 1);
  }
  const http = httpTable(r);
  return [
    '## Targets',
    '',
    table(['target', 'required', 'measured', 'verdict'], targetRows),
    ...(http ? ['', '## HTTP', '', http] : []),
    ...(log.size > 0 ? ['', '## Service log (warn and above)', ''] : []),
    ...[...log].slice(0, 10).map(([message, n]) => `- ${n} x ${message}`),
    '',
  ].join('\n');
}
