// Tables of one run's results, as markdown that reads as plain text too.
import type { PgbenchResult } from './pgbench';
import type { ProfileSummary } from './profile';
import { httpRows, type Results, type Row } from './report';
import type { Target } from './targets';

export const ms = (value: number): string => (Number.isFinite(value) ? value.toFixed(2) : '-');
export const int = (value: number): string => (Number.isFinite(value) ? value.toFixed(0) : '-');
export const ratio = (row: Row | undefined): number =>
  row?.yardstick ? row.ours.load.throughput / row.yardstick.result.tps : NaN;

/** A markdown table with padded columns (numbers right-aligned), readable as plain text too. */
export function table(headers: string[], rows: string[][], numeric: boolean[] = []): string {
  const widths = headers.map((h, i) => Math.max(3, h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(' | ')} |`;
  const rule = `| ${widths.map((w, i) => (numeric[i] ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w))).join(' | ')} |`;
  return [line(headers), rule, ...rows.map(line)].join('\n');
}

/**
 * CPU per request (ours) or per transaction (yardstick) of each party, from /proc over the
 * measured window; "others" is the rest of the machine's busy time, in cores.
 */
export function cpuTable(results: Results): string {
  const body: string[][] = [];
  const seen = new Set<PgbenchResult>();
  const perUnit = (msUsed: number, units: number) =>
    units > 0 ? (msUsed / units).toFixed(3) : '-';
  for (const { ours, yardstick } of httpRows(results)) {
    const c = ours.cpu;
    if (c) {
      body.push([
        `${ours.scenario} c${ours.concurrency}`,
        int(ours.load.throughput),
        ours.writeTransactions !== undefined
          ? (ours.writeTransactions / Math.max(1, ours.load.requests)).toFixed(2)
          : '-',
        perUnit(c.serviceMs, ours.load.requests),
        perUnit(c.postgresMs, ours.load.requests),
        perUnit(c.benchMs, ours.load.requests),
        (c.otherMs / 1000 / c.seconds).toFixed(2),
      ]);
    }
    const y = yardstick?.result;
    if (yardstick && y?.cpu && !seen.has(y)) {
      seen.add(y);
      const tx = y.processed;
      body.push([
        `yardstick ${yardstick.script} c${y.clients}`,
        int(y.tps),
        y.writeTransactions !== undefined
          ? (y.writeTransactions / Math.max(1, tx)).toFixed(2)
          : '-',
        '-',
        perUnit(y.cpu.postgresMs, tx),
        perUnit(y.cpu.benchMs, tx),
        (y.cpu.otherMs / 1000 / y.cpu.seconds).toFixed(2),
      ]);
    }
  }
  return table(
    [
      'run',
      'per s',
      'pg write tx',
      'service ms',
      'postgres ms',
      'load gen / pgbench ms',
      'others (cores)',
    ],
    body,
    [false, true, true, true, true, true, true],
  );
}

export function httpTable(results: Results): string {
  const rows = httpRows(results);
  const headers = [
    'scenario',
    'c',
    'req/s',
    'p50 ms',
    'p90 ms',
    'p99 ms',
    'non-2xx',
    'no answer',
    'RSS MB',
    'procs',
    'yardstick',
    'yd tps',
    'yd p50',
    'yd p99',
    'ratio',
  ];
  const body = rows.map(({ ours, yardstick }) => {
    const y = yardstick?.result;
    return [
      ours.scenario,
      String(ours.concurrency),
      int(ours.load.throughput),
      ms(ours.load.latency.p50),
      ms(ours.load.latency.p90),
      ms(ours.load.latency.p99),
      String(ours.load.non2xx),
      String(ours.load.errors),
      int(ours.rss.totalMb),
      String(ours.rss.processes),
      yardstick ? `${yardstick.script} c${y?.clients}` : '-',
      y ? int(y.tps) : '-',
      y?.latency ? ms(y.latency.p50) : '-',
      y?.latency ? ms(y.latency.p99) : '-',
      yardstick ? `${ratio({ ours, yardstick }).toFixed(2)} x` : '-',
    ];
  });
  const numeric = headers.map((_, i) => i !== 0 && i !== 10);
  return table(headers, body, numeric);
}

export function targetsTable(targets: Target[]): string {
  const verdict = (met: boolean | undefined) =>
    met === undefined ? 'not measured' : met ? 'met' : '**not met**';
  return table(
    ['target', 'required', 'measured', 'verdict'],
    targets.map((t) => [t.name, t.requirement, t.measured, verdict(t.met)]),
  );
}

export function profileTable(profile: ProfileSummary): string {
  const fn = table(
    ['self ms', '%', 'function', 'where'],
    profile.functions.map((f) => [f.ms.toFixed(0), f.percent.toFixed(1), f.name, f.where]),
    [true, true, false, false],
  );
  const pkg = table(
    ['self ms', '%', 'package'],
    profile.packages.map((p) => [p.ms.toFixed(0), p.percent.toFixed(1), p.name]),
    [true, true, false],
  );
  return `${fn}\n\nBy package:\n\n${pkg}`;
}

/** Service log lines at warn and above, grouped by message. */
export function serviceLogSummary(lines: string[]): string[] {
  const counts = new Map<string, number>();
  for (const line of lines) {
    let key = line;
    try {
      const parsed = JSON.parse(line) as { msg?: string; level?: number | string };
      key = `${String(parsed.level)} ${parsed.msg ?? line}`;
    } catch {
      // not JSON: keep the line
    }
    key = key.slice(0, 200);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1]).map(([msg, n]) => `${n} x ${msg}`);
}
