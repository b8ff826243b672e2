// One run's results, and the two ways they are shown: printed to stdout and BENCHMARKS.md.
import path from 'node:path';
import { BEFORE_AFTER_HEADERS, beforeAfterRows } from './baseline';
import type { BigChangeResult } from './big_change';
import { minimalServersChart, throughputChart } from './charts';
import type { AllocatedLatency, ConsumerThroughput } from './consumer';
import type { HistoryResult } from './history';
import type { HotResult, SelloutResult } from './hot';
import type { MachineInfo } from './machine';
import { measuredChangesTable } from './measured_changes';
import { MINIMAL_SERVERS, ROUNDS, type MinimalRow } from './minimal_servers';
import type { OverloadResult } from './overload';
import type { PgbenchResult } from './pgbench';
import type { ProfileSummary } from './profile';
import type { Measurement } from './scenarios';
import {
  bigChangeTable,
  minimalTable,
  overloadTable,
  redisTable,
  workersNote,
  workersTable,
} from './scenario_tables';
import {
  cpuTable,
  httpTable,
  profileTable,
  serviceLogSummary,
  table,
  targetsTable,
} from './tables';
import type { Target } from './targets';
import type { WorkersResult } from './workers';
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
  healthz?: Measurement;
  spread: Row[];
  hot: (Row & { checks: HotResult })[];
  sellout?: SelloutResult;
  history?: { result: HistoryResult; none: Row; after: Row };
  read?: Row;
  /** Ours beside the minimal Koa servers. */
  minimal: MinimalRow[];
  consumer?: ConsumerThroughput;
  allocated?: AllocatedLatency & { row: Row };
  bigChange?: BigChangeResult;
  overload?: OverloadResult;
  /** Spread on services with 1 and 2 API workers, apart from the one-process scenarios. */
  workers?: WorkersResult;
  serviceLog: string[];
  profile?: ProfileSummary;
}

/** The HTTP measurements of the service that the main table shows (and a profile covers). */
export function httpRows(results: Results): Row[] {
  return [
    ...(results.healthz ? [{ ours: results.healthz }] : []),
    ...results.spread,
    ...results.hot,
    ...(results.history ? [results.history.none, results.history.after] : []),
    ...(results.read ? [results.read] : []),
    ...(results.allocated ? [results.allocated.row] : []),
  ];
}
export const measuredRows = httpRows;

function section(title: string, body: string | undefined, note?: string): string[] {
  return body ? [`## ${title}`, '', body, '', ...(note ? [note, ''] : [])] : [];
}

function beforeAfter(results: Results): string | undefined {
  const rows = beforeAfterRows(results);
  return rows.length > 0 ? table(BEFORE_AFTER_HEADERS, rows) : undefined;
}

/** What `make bench` prints: every table of the run, and the profile if one was taken. */
export function printed(results: Results, targets: Target[], repoRoot: string): string {
  const out = [
    ...section('HTTP', httpRows(results).length > 0 ? httpTable(results) : undefined),
    ...section('Minimal servers', minimalTable(results)),
    ...section('Redis', redisTable(results)),
    ...section('Freeing many lines', bigChangeTable(results)),
    ...section('Overload', overloadTable(results)),
    ...section(`API workers (${workersNote(results)})`, workersTable(results)),
    ...section('CPU', httpRows(results).length > 0 ? cpuTable(results) : undefined),
    ...section('Before and after', beforeAfter(results)),
    ...section('Targets', targetsTable(targets)),
  ];
  const log = serviceLogSummary(results.serviceLog);
  if (log.length > 0) out.push('Service log (warn and above):', ...log.slice(0, 10), '');
  const p = results.profile;
  if (p) {
    // V8 samples wall time: a sample that is not idle may be a process waiting for a core.
    const serviceCpuMs = httpRows(results).reduce(
      (sum, r) => sum + (r.ours.cpu?.serviceMs ?? 0),
      0,
    );
    out.push(
      `CPU profile of the service (${p.files.length} processes, in ` +
        `${path.relative(repoRoot, path.dirname(p.files[0]))}): ${(p.totalMs / 1000).toFixed(1)} s ` +
        `of samples in the measured windows, ${p.idlePercent.toFixed(0)}% idle; /proc counts ` +
        `${((100 * serviceCpuMs) / p.totalMs).toFixed(0)}% on a CPU. Top self time:`,
      '',
      profileTable(p),
      '',
    );
  }
  return `\n${out.join('\n')}`;
}

export function markdown(results: Results, targets: Target[]): string {
  const m = results.machine;
  const log = serviceLogSummary(results.serviceLog);
  const throughput = throughputChart(results);
  const minimalChart = minimalServersChart(
    results.minimal.map((row) => ({
      label: `${MINIMAL_SERVERS[row.server].ours} c${row.ours.concurrency}`,
      ratio: row.ratio,
      target: MINIMAL_SERVERS[row.server].target,
    })),
  );
  return [
    '# Benchmarks',
    '',
    'Written by `make bench` (`bench/`); do not edit by hand. The service runs as its own ' +
      'process (`main.js all`) on the PostgreSQL and Redis the benchmark starts, driven over ' +
      'HTTP with keep-alive by autocannon (fixed connections, one request in flight on each, ' +
      `${results.warmupSeconds} s warm-up, ${results.durationSeconds} s measured, a unique ` +
      'order id per request). Its yardsticks, in `bench/yardstick/`, run on the same server in ' +
      'the same run, each right after the scenario of ours it is compared with: pgbench ' +
      '`-M prepared -j 2` of the tightest SQL for one allocation (ratio = our req/s / its tps), ' +
      'and minimal Koa servers under the same load as ours (ratio = our req/s / theirs). The ' +
      'machine is shared and noisy: compare ratios within one run.',
    '',
    `- date: ${m.date}`,
    `- machine: ${m.cpus} CPUs (${m.cpuModel}), ${m.memoryGiB} GiB memory, ${m.kernel}`,
    `- versions: Node ${m.node}, PostgreSQL ${m.postgres}, Redis ${m.redis}, ${m.pgbench}`,
    `- commit: ${m.commit}; load generator: autocannon`,
    '',
    ...section('Targets', targetsTable(targets)),
    ...section(
      'Before and after',
      beforeAfter(results),
      'Before: the last BENCHMARKS.md before issues 9 and 11 (commit ee83370, the old ' +
        'hand-written load generator) and the measurements quoted in those issues (wrk, 16 ' +
        'connections). 840b9be: the service before issues 9 and 11 under this benchmark ' +
        '(`--service`, its own database), run on 2026-11-27 at 15:58 UTC on a machine busy with ' +
        'other work. Absolute req/s move with the load generator and the background load; the ' +
        'ratios, measured within one run, are what to compare.',
    ),
    ...section(
      'What each change bought',
      measuredChangesTable(),
      'Measured apart from this run (bench/measured_changes.ts says how), in one window each: ' +
        'a change of a few microseconds per request is lost in the noise of a whole run here.',
    ),
    ...section(
      'Minimal servers',
      minimalTable(results),
      'Each minimal server (`bench/yardstick/koa_*.ts`) is a process of its own on the same ' +
        `PostgreSQL, taking turns with ours under the same load (${ROUNDS} rounds each, the ` +
        "order alternating; the ratio is the median of the rounds' ratios, all listed): the " +
        'hello world answers the same JSON as `/healthz`; SELECT 1 goes to PostgreSQL once per request and answers its ' +
        'row; the allocation runs, on the yardstick database, what a hand-written Koa + pg ' +
        'server would: BEGIN, the six statements of `allocate.pgbench`, COMMIT, with no ' +
        'validation, no availability check and no outbox.',
    ),
    ...(minimalChart ? [minimalChart, ''] : []),
    ...section(
      'HTTP',
      httpTable(results),
      '`healthz`: a request that does no work. `history-N`: one-unit allocations on one sku ' +
        'after N earlier allocations on it. `line_allocated`: the allocations of the 202 -> ' +
        'line_allocated measurement. RSS: the largest resident memory of the service while the ' +
        'scenario ran, summed over its processes.',
    ),
    ...(throughput ? [throughput, ''] : []),
    ...section('Redis', redisTable(results)),
    ...section(
      'Freeing many lines',
      bigChangeTable(results),
      'One change_batch_quantity sets a batch holding that many one-unit lines to 0; another ' +
        'batch of the sku has room for all. Seconds: from publishing the message until every ' +
        'line is counted on the other batch in the database; read model s: until ' +
        "`allocations_view` shows them all there. Worst event-loop delay: the service's own " +
        '`nodejs_eventloop_lag_max_seconds` (prom-client, perf_hooks.monitorEventLoopDelay) over ' +
        'the whole run; worst /healthz: a probe asking every 100 ms meanwhile.',
    ),
    ...section(
      'Overload',
      overloadTable(results),
      'That many connections each allocating in a closed loop, on 100 skus: the service ' +
        'admits at most MAX_INFLIGHT commands and refuses the rest at once with 503 and ' +
        'Retry-After. Admitted: the 202s, per second and their latencies. 202s / stored: the ' +
        '202s answered (warm-up included) and the order lines in the database for these skus ' +
        '(more stored than answered: requests in flight when the run stopped).',
    ),
    ...section(
      'Scale-out: API workers',
      workersTable(results),
      `${workersNote(results)}; each service the only one running, on the same PostgreSQL. ` +
        'With API_WORKERS=N > 1 the service is N + 1 processes (node:cluster). CPU per ' +
        'request from /proc; busy cores: the whole machine during the window, the load ' +
        'generator, Redis and other work included. See SCALING.md.',
    ),
    ...section(
      'Where the CPU went',
      cpuTable(results),
      'Per request (ours) or per transaction (yardstick), over the measured window: ' +
        'PostgreSQL write transactions (transaction ids used), and CPU ms from /proc of the ' +
        'service (all its processes), PostgreSQL, and the benchmark process (autocannon, or ' +
        'pgbench). "others": the rest of the machine\'s busy time, in cores.',
    ),
    ...(log.length > 0
      ? ['## Service log (warn and above)', '', ...log.slice(0, 10).map((l) => `- ${l}`), '']
      : []),
  ].join('\n');
}
