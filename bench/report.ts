// The results as tables, for stdout and BENCHMARKS.md.
import type { AllocatedLatency, ConsumerThroughput } from './consumer';
import type { MachineInfo } from './machine';
import type { PgbenchResult } from './pgbench';
import type { ProfileSummary } from './profile';
import {
  describeRss,
  type HistoryResult,
  type HotResult,
  type Measurement,
  type SelloutResult,
} from './scenarios';
import type { WorkersResult } from './workers';
import type { Target } from './targets';
import type { YardstickScript } from './yardstick';

/** One of our measurements beside the yardstick's run at the same concurrency, if any. */
export interface Row {
  ours: Measurement;
  yardstick?: { script: YardstickScript; result: PgbenchResult };
}

export interface Results {
  machine: MachineInfo;
  warmupSeconds: number;
  durationSeconds: number;
  client: string;
  generator?: Measurement;
  spread: Row[];
  hot: (Row & { checks: HotResult })[];
  sellout?: SelloutResult;
  history?: { result: HistoryResult; none: Row; after: Row };
  read?: Row;
  consumer?: ConsumerThroughput;
  allocated?: AllocatedLatency & { row: Row };
  /** Spread on services with 1 and 2 API workers, apart from the one-process scenarios. */
  workers?: WorkersResult;
  serviceLog: string[];
  profile?: ProfileSummary;
}

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

export function httpRows(results: Results): Row[] {
  return [
    ...(results.generator ? [{ ours: results.generator }] : []),
    ...results.spread,
    ...results.hot,
    ...(results.history ? [results.history.none, results.history.after] : []),
    ...(results.read ? [results.read] : []),
    ...(results.allocated ? [results.allocated.row] : []),
  ];
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

export function redisTable(results: Results): string | undefined {
  const rows: string[][] = [];
  const c = results.consumer;
  if (c) {
    rows.push([
      'change_batch_quantity applied',
      `${int(c.perSecond)} msg/s`,
      `${c.messages} messages in ${c.seconds.toFixed(2)} s, ${c.deadLetters} dead letters, ` +
        `RSS ${describeRss(c.rss)}`,
    ]);
  }
  const a = results.allocated;
  if (a) {
    rows.push([
      '202 -> line_allocated',
      `p50 ${ms(a.latency.p50)} ms, p99 ${ms(a.latency.p99)} ms`,
      `${a.received} of ${a.answered} messages received (${a.missing} missing), ` +
        `${a.beforeResponse} arrived before their 202; allocations at c${a.measurement.concurrency}`,
    ]);
  }
  return rows.length > 0 ? table(['redis', 'result', 'detail'], rows) : undefined;
}

/** One line on how the workers scenario ran, for the table's title. */
export function workersNote(results: Results): string {
  const w = results.workers;
  if (!w) return '';
  const counts = w.runs.map((r) => r.apiWorkers).join(', then ');
  return (
    `spread, 100 skus; a fresh service per API_WORKERS value (${counts}), ` +
    `${w.warmupSeconds} s warm-up, ${w.durationSeconds} s measured`
  );
}

/**
 * The workers scenario: each API_WORKERS value at each concurrency, its req/s as a ratio to the
 * first value's at the same concurrency, memory over all the service's processes, CPU per request.
 */
export function workersTable(results: Results): string | undefined {
  const w = results.workers;
  if (!w || w.runs.length === 0) return undefined;
  const first = w.runs[0];
  const perRequest = (msUsed: number | undefined, m: Measurement) =>
    msUsed !== undefined && m.load.requests > 0 ? (msUsed / m.load.requests).toFixed(3) : '-';
  const body = w.runs.flatMap((run) =>
    run.measurements.map((m) => {
      const base = first.measurements.find((b) => b.concurrency === m.concurrency);
      const c = m.cpu;
      const busy = c
        ? (c.serviceMs + c.postgresMs + c.benchMs + c.otherMs) / 1000 / c.seconds
        : NaN;
      return [
        String(run.apiWorkers),
        String(m.concurrency),
        int(m.load.throughput),
        base && base !== m ? `${(m.load.throughput / base.load.throughput).toFixed(2)} x` : '-',
        ms(m.load.latency.p50),
        ms(m.load.latency.p99),
        base && base !== m ? `${(m.load.latency.p99 / base.load.latency.p99).toFixed(2)} x` : '-',
        String(m.load.non2xx),
        String(m.load.errors),
        int(m.rss.totalMb),
        String(m.rss.processes),
        int(m.rss.largestMb),
        m.writeTransactions !== undefined
          ? (m.writeTransactions / Math.max(1, m.load.requests)).toFixed(2)
          : '-',
        perRequest(c?.serviceMs, m),
        perRequest(c?.postgresMs, m),
        Number.isFinite(busy) ? busy.toFixed(2) : '-',
      ];
    }),
  );
  return table(
    [
      'API_WORKERS',
      'c',
      'req/s',
      `req/s vs ${first.apiWorkers}`,
      'p50 ms',
      'p99 ms',
      `p99 vs ${first.apiWorkers}`,
      'non-2xx',
      'no answer',
      'RSS MB',
      'procs',
      'largest MB',
      'pg write tx/req',
      'service CPU ms/req',
      'postgres CPU ms/req',
      'busy cores',
    ],
    body,
    Array.from({ length: 16 }, () => true),
  );
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

export function markdown(results: Results, targets: Target[], chartPath: string): string {
  const m = results.machine;
  const redis = redisTable(results);
  const workers = workersTable(results);
  const log = serviceLogSummary(results.serviceLog);
  return [
    '# Benchmarks',
    '',
    'Written by `make bench` (`bench/`); do not edit by hand. The service runs as its own ' +
      'process (`main.js all`) on the PostgreSQL and Redis the benchmark starts, driven over ' +
      'HTTP with keep-alive by a closed-loop load generator (fixed concurrency, ' +
      `${results.warmupSeconds} s warm-up, ${results.durationSeconds} s measured, unique order ` +
      'ids). The yardstick is `bench/yardstick/` (pgbench `-M prepared -j 2` of the tightest SQL ' +
      'for one allocation) on the same server in the same run, interleaved with ours; ratio = ' +
      'our req/s / its tps. The machine is shared and noisy: compare ratios within one run.',
    '',
    `- date: ${m.date}`,
    `- machine: ${m.cpus} CPUs (${m.cpuModel}), ${m.memoryGiB} GiB memory, ${m.kernel}`,
    `- versions: Node ${m.node}, PostgreSQL ${m.postgres}, Redis ${m.redis}, ${m.pgbench}`,
    `- commit: ${m.commit}; load generator: ${results.client} client`,
    '',
    '## Targets',
    '',
    targetsTable(targets),
    '',
    '## HTTP',
    '',
    httpTable(results),
    '',
    'Latencies in ms. `healthz` measures the load generator itself (no database). ' +
      '`history-N`: one-unit allocations on one sku after N earlier allocations on it. ' +
      '`line_allocated`: the allocations of the 202 -> line_allocated measurement. ' +
      'RSS: the largest resident memory of the service while the scenario ran, summed over ' +
      'its processes (the primary and any API workers it forks).',
    '',
    ...(redis ? ['## Redis', '', redis, ''] : []),
    ...(workers
      ? [
          '## Scale-out: API workers',
          '',
          workers,
          '',
          `${workersNote(results)}. The spread scenario's load (same skus) on a service started ` +
            'with each API_WORKERS value in turn, each the only service running, on the same ' +
            'PostgreSQL. With API_WORKERS=N > 1 the service is N + 1 processes: the primary keeps the Redis ' +
            'consumer and a relay, each worker serves HTTP (node:cluster, one shared port) with ' +
            'its own database pool and relay. RSS MB: summed over the processes (procs), ' +
            'largest MB: the biggest one. pg write tx/req: PostgreSQL transaction ids used per ' +
            'request (an allocation writes in one; read-model updates share theirs, grouped per ' +
            'process). CPU per request from ' +
            '/proc: the service (all its processes) and PostgreSQL; busy cores: the whole ' +
            'machine during the window ' +
            `(${m.cpus} CPUs), load generator, Redis and other people's work included. The ` +
            'service, PostgreSQL and the load generator share these cores, so a second worker ' +
            'only gets what the others leave: see SCALING.md.',
          '',
        ]
      : []),
    '## Where the CPU went',
    '',
    cpuTable(results),
    '',
    'Per request (ours) or per transaction (yardstick), over the measured window: PostgreSQL ' +
      'write transactions (transaction ids used), and CPU time in ms from /proc: the service (all its processes), PostgreSQL (all its processes), and ' +
      'the benchmark process (the load generator, or pgbench for the yardstick). "others": ' +
      'the rest of the busy time of the machine, in cores (Redis, and other work on this ' +
      'shared machine: what makes numbers noisy).',
    '',
    `![throughput and p99 by concurrency, ours beside the yardstick](${chartPath})`,
    '',
    ...(log.length > 0
      ? ['## Service log (warn and above)', '', ...log.slice(0, 10).map((l) => `- ${l}`), '']
      : []),
  ].join('\n');
}
