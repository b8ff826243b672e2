// The numbers from before issues 9 and 11, beside the same measures of this run. Three sources:
// BENCHMARKS.md of 2026-11-21 (commit ee83370, the old hand-written load generator), the
// measurements quoted in issues 9 and 11 (wrk, 16 connections, 2026-11-27), and commit 840b9be
// (the service before issues 9 and 11) under this benchmark (`--service`, 2026-11-27 15:58 UTC,
// on a machine busy with other work). Absolute figures move with the load generator and the
// machine's background load; ratios within one run far less.
import { WAIT_LIMIT_MS } from './big_change';
import type { Results, Row } from './report';
import { int, ms, ratio } from './tables';

interface Measure {
  name: string;
  before: string;
  source: 'BENCHMARKS.md ee83370' | 'issue 11' | 'issue 9';
  /** Commit 840b9be under this benchmark. */
  at840b9be: string;
  now: (results: Results) => string | undefined;
}

const perSecond = (row: Row | undefined) => row && `${int(row.ours.load.throughput)}/s`;
const versus = (row: Row | undefined) =>
  row?.yardstick && `${int(row.ours.load.throughput)}/s = ${ratio(row).toFixed(2)} x`;
const minimal = (results: Results, server: string) => {
  const row = results.minimal.find((m) => m.server === server);
  return (
    row &&
    `${int(row.ours.load.throughput)}/s vs ${int(row.theirs.load.throughput)}/s = ` +
      `${row.ratio.toFixed(2)} x`
  );
};
/** "in N s", or that the wait ran out. */
export const within = (seconds: number) =>
  Number.isFinite(seconds) ? `in ${ms(seconds)} s` : `not all within ${WAIT_LIMIT_MS / 1000} s`;
const c16 = (results: Results) => results.spread.find((r) => r.ours.concurrency === 16);
const c32 = (results: Results) => results.hot.find((r) => r.ours.concurrency === 32);

const MEASURES: Measure[] = [
  {
    name: 'POST /allocate, spread c16, vs pgbench allocate',
    at840b9be: '193/s = 0.12 x',
    before: '1691/s = 0.44 x',
    source: 'BENCHMARKS.md ee83370',
    now: (r) => versus(c16(r)),
  },
  {
    name: 'spread c16 p99',
    at840b9be: '305.19 ms',
    before: '20.28 ms',
    source: 'BENCHMARKS.md ee83370',
    now: (r) => {
      const row = c16(r);
      return row && `${ms(row.ours.load.latency.p99)} ms`;
    },
  },
  {
    name: 'POST /allocate, hot c32, vs pgbench allocate_hot',
    at840b9be: '113/s = 0.38 x',
    before: '862/s = 0.76 x',
    source: 'BENCHMARKS.md ee83370',
    now: (r) => versus(c32(r)),
  },
  {
    name: 'GET /allocations/:orderid c16, vs pgbench read_view',
    at840b9be: '1984/s = 0.07 x',
    before: '5879/s = 0.11 x',
    source: 'BENCHMARKS.md ee83370',
    now: (r) => versus(r.read),
  },
  {
    name: 'GET /healthz c16',
    at840b9be: '7527/s',
    before: '15836/s',
    source: 'BENCHMARKS.md ee83370',
    now: (r) => r.healthz && perSecond({ ours: r.healthz }),
  },
  {
    name: 'change_batch_quantity applied',
    at840b9be: '99 msg/s',
    before: '724 msg/s',
    source: 'BENCHMARKS.md ee83370',
    now: (r) => r.consumer && `${int(r.consumer.perSecond)} msg/s`,
  },
  {
    name: 'allocation vs minimal Koa + pg allocation (c16)',
    at840b9be: '193/s vs 417/s = 0.46 x',
    before: '1630-1700/s vs 1910-1950/s = 0.84-0.89 x',
    source: 'issue 11',
    now: (r) => minimal(r, 'koa_allocate'),
  },
  {
    name: 'GET /allocations/:orderid vs Koa + pg SELECT 1 (c16)',
    at840b9be: '1984/s vs 1335/s = 1.49 x',
    before: '6300-6400/s vs 14300/s = 0.44-0.45 x',
    source: 'issue 11',
    now: (r) => minimal(r, 'koa_select1'),
  },
  {
    name: 'GET /healthz vs Koa hello world (c16)',
    at840b9be: '7527/s vs 17906/s = 0.42 x',
    before: '13000/s vs 29000/s = 0.45 x',
    source: 'issue 11',
    now: (r) => minimal(r, 'koa_hello'),
  },
  {
    name: 'overload: admitted p50 / p99, refused',
    at840b9be: '2000 clients: p50 8783.00 ms, p99 10818.94 ms, max 10985.79 ms, 0.0% refused',
    before: '1000 clients: p50 2 s, p99 7.7 s, max 11 s, none refused',
    source: 'issue 9',
    now: (r) => {
      const o = r.overload;
      if (!o) return undefined;
      const latency = o.measurement.load.latency2xx;
      return (
        `${o.measurement.concurrency} clients: p50 ${ms(latency.p50)} ms, ` +
        `p99 ${ms(latency.p99)} ms, max ${ms(latency.max)} ms, ` +
        `${(100 * o.refusedShare).toFixed(1)}% refused`
      );
    },
  },
  {
    name: 'one message freeing 20,000 lines',
    at840b9be: 'not run',
    before: 'fails on every try (one statement of > 65,535 parameters), dead-lettered',
    source: 'issue 9',
    now: (r) => {
      const b = r.bigChange;
      return (
        b &&
        `${b.lines} lines: ${b.reallocated} re-allocated ${within(b.seconds)}, ` +
          `${b.deadLetters} dead letters`
      );
    },
  },
];

export const BEFORE_AFTER_HEADERS = [
  'measure',
  'before',
  'source',
  '840b9be, this benchmark',
  'this run',
];

/** One row for each measure this run took. */
export function beforeAfterRows(results: Results): string[][] {
  return MEASURES.flatMap((m) => {
    const now = m.now(results);
    return now === undefined ? [] : [[m.name, m.before, m.source, m.at840b9be, now]];
  });
}
