// Tables of the scenarios that are not one HTTP load beside pgbench: the Redis side, the
// minimal servers, the big quantity change, overload, and the API workers.
import { MINIMAL_SERVERS } from './minimal_servers';
import type { Results } from './report';
import { describeRss, type Measurement } from './scenarios';
import { int, ms, table } from './tables';

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

/** Ours beside the minimal Koa server doing the same work, under the same load. */
export function minimalTable(results: Results): string | undefined {
  if (results.minimal.length === 0) return undefined;
  const side = (m: Measurement) => [
    int(m.load.throughput),
    ms(m.load.latency.p50),
    ms(m.load.latency.p99),
  ];
  return table(
    [
      'ours',
      'c',
      'req/s',
      'p50 ms',
      'p99 ms',
      'minimal server',
      'req/s',
      'p50 ms',
      'p99 ms',
    ].concat(['ratio', 'rounds', 'target']),
    results.minimal.map((row) => {
      const server = MINIMAL_SERVERS[row.server];
      return [
        server.ours,
        String(row.ours.concurrency),
        ...side(row.ours),
        server.label,
        ...side(row.theirs),
        `${row.ratio.toFixed(2)} x`,
        row.ratios.map((ratio) => ratio.toFixed(2)).join(', '),
        `>= ${server.target} x`,
      ];
    }),
    [false, true, true, true, true, false, true, true, true, true, false, false],
  );
}

export function bigChangeTable(results: Results): string | undefined {
  const b = results.bigChange;
  if (!b) return undefined;
  return table(
    ['lines freed', 're-allocated', 'seconds', 'lines/s', 'read model s'].concat([
      'worst event-loop delay ms',
      'worst /healthz ms',
      '/healthz failures',
      'dead letters',
    ]),
    [
      [
        String(b.lines),
        String(b.reallocated),
        ms(b.seconds),
        int(b.reallocated / b.seconds),
        ms(b.readModelSeconds),
        int(b.eventLoopMaxMs),
        int(b.healthzMaxMs),
        String(b.healthzFailures),
        String(b.deadLetters),
      ],
    ],
    Array.from({ length: 9 }, () => true),
  );
}

export function overloadTable(results: Results): string | undefined {
  const o = results.overload;
  if (!o) return undefined;
  const load = o.measurement.load;
  const refused = load.statuses['503'] ?? 0;
  const otherNon2xx = load.non2xx - refused;
  return table(
    ['connections', 'admitted/s', 'admitted p50 ms', 'admitted p99 ms', 'admitted max ms'].concat([
      'service p99 ms',
      'refused 503',
      'other non-2xx',
      'no answer',
      '503 without Retry-After',
      '202s / stored',
      'listen queue overflows',
    ]),
    [
      [
        String(o.measurement.concurrency),
        int(o.admittedPerSecond),
        ms(load.latency2xx.p50),
        ms(load.latency2xx.p99),
        ms(load.latency2xx.max),
        `<= ${o.service.p99BoundSeconds * 1000}`,
        `${(100 * o.refusedShare).toFixed(1)}% (${refused})`,
        String(otherNon2xx),
        String(load.errors),
        String(o.refusedWithoutRetryAfter),
        `${o.accepted} / ${o.stored}`,
        String(o.listenOverflows),
      ],
    ],
    [true, true, true, true, true, true, true, true, true, true, false, true],
  );
}
