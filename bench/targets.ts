// The issues' targets, met or not, from one run's results: issue 23 (spread and hot beside
// pgbench, spread p99, one client, reads beside Koa + SELECT 1, the relay's drain beside a
// minimal loop, a fresh database beside a vacuumed one), which raised those of issues 5 and 11;
// issue 5 (history, memory), 11 (ours beside the other minimal servers), 9 (freeing many lines,
// overload); and the measures reported with no target (no requirement).
import type { Measurement } from './measure';
import { MINIMAL_SERVERS, type MinimalServer } from './minimal';
import type { Results, Row } from './run';

export type Target = { name: string; requirement?: string; measured: string; met?: boolean };

export const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : '-');
export const int = (v: number) => (Number.isFinite(v) ? v.toFixed(0) : '-');
export const x = (v: number) => `${Number.isFinite(v) ? v.toFixed(2) : '-'} x`;
export const ratio = (row?: Row) =>
  row?.yardstick ? row.ours.load.throughput / row.yardstick.load.throughput : NaN;
const versus = (row: Row) =>
  `${int(row.ours.load.throughput)} req/s` +
  (row.yardstick ? ` vs ${int(row.yardstick.load.throughput)} tps = ${x(ratio(row))}` : '');
/** Service + PostgreSQL CPU per request: far less sensitive to background load than latency. */
const cpuPerRequest = (m: Measurement) =>
  m.cpu ? (m.cpu.serviceMs + m.cpu.postgresMs) / Math.max(1, m.load.requests) : NaN;
const LIMIT_MS = 1000; // issue 9: /healthz while freeing lines, admitted p99 under overload

/** Measured when `value` is: `judge` says what was measured and whether it was met. */
function target<T>(
  name: string,
  requirement: string | undefined,
  value: T | undefined,
  judge: (v: T) => [string, boolean?],
): Target {
  if (value === undefined) return { name, requirement, measured: 'not run' };
  const [measured, met] = judge(value);
  return { name, requirement, measured, met: requirement === undefined ? undefined : met };
}

export function evaluateTargets(r: Results): Target[] {
  const spread16 = r.spread.find((row) => row.ours.concurrency === 16);
  const spread1 = r.spread.find((row) => row.ours.concurrency === 1);
  const hot32 = r.hot.find((row) => row.ours.concurrency === 32);
  const { overload: o, drain, hotFresh } = r;
  return [
    target('spread c16 throughput', '>= 0.7 x pgbench allocate', spread16, (row) => [
      versus(row),
      row.yardstick && ratio(row) >= 0.7,
    ]),
    target('spread c16 p99', '< 20 ms', spread16, ({ ours }) => [
      `${ms(ours.load.latency.p99)} ms`,
      ours.load.latency.p99 < 20,
    ]),
    target('one client: spread c1 p50 / service CPU', '<= 2 ms / <= 1 ms', spread1, ({ ours }) => {
      const cpu = ours.cpu ? ours.cpu.serviceMs / Math.max(1, ours.load.requests) : NaN;
      return [
        `${ms(ours.load.latency.p50)} ms / ${ms(cpu)} ms per allocation`,
        ours.load.latency.p50 <= 2 && cpu <= 1,
      ];
    }),
    target('hot c32 errors', '0 (non-2xx, no answer, nothing from stock)', hot32, (row) => {
      const [load, unallocated] = [row.ours.load, row.checks.unallocated];
      const errors = load.non2xx + load.errors + unallocated;
      const detail = `non-2xx ${load.non2xx}, no answer ${load.errors}, unallocated ${unallocated}`;
      return [`${errors} (${detail})`, errors === 0];
    }),
    target('hot oversold', '0', r.hot.length > 0 || r.sellout ? r : undefined, oversold),
    target('hot c32 throughput', '>= 1.5 x pgbench allocate_hot', hot32, (row) => [
      versus(row),
      row.yardstick && ratio(row) >= 1.5,
    ]),
    target('history p50', 'after many allocations <= 1.2 x after none', r.history, (h) => [
      `after ${h.earlier}: ${ms(h.after.load.latency.p50)} ms vs ` +
        `${ms(h.none.load.latency.p50)} ms = ${x(h.ratio)} (rounds ${list(h.ratios)}; CPU ` +
        `per allocation ${x(cpuPerRequest(h.after) / cpuPerRequest(h.none))})`,
      h.ratio <= 1.2,
    ]),
    target('read c16 throughput', '>= min(15000 req/s, 0.2 x pgbench read_view)', r.read, (row) => {
      const floor = row.yardstick ? Math.min(15_000, 0.2 * row.yardstick.load.throughput) : NaN;
      const met = row.yardstick && row.ours.load.throughput >= floor;
      return [`${versus(row)}; floor ${int(floor)} req/s`, met];
    }),
    target('server RSS', '<= 150 MB per process (one-process scenarios)', largestRss(r), (m) => [
      `${int(m.rss?.largestMb ?? NaN)} MB (${m.scenario} c${m.concurrency})`,
      (m.rss?.largestMb ?? NaN) <= 150,
    ]),
    ...(Object.keys(MINIMAL_SERVERS) as MinimalServer[]).map((server) => {
      const { label, ours, target: least } = MINIMAL_SERVERS[server];
      const row = r.minimal.find((m) => m.server === server);
      return target(`${ours} vs ${label}`, `>= ${least} x`, row, (m) => [
        `${int(m.ours.load.throughput)} vs ${int(m.theirs.load.throughput)} req/s = ` +
          `${x(m.ratio)} (rounds ${list(m.ratios)})`,
        m.ratio >= least,
      ]);
    }),
    target('change_batch_quantity applied', undefined, r.consumer, (c) => [
      `${int(c.perSecond)} msg/s (${c.messages} in ${ms(c.seconds)} s), ${c.deadLetters} dead ` +
        `letters, RSS ${int(c.rss.totalMb)} MB`,
    ]),
    target('202 -> line_allocated', undefined, r.allocated, (a) => [
      `p50 ${ms(a.latency.p50)} ms, p99 ${ms(a.latency.p99)} ms; ${a.received} of ` +
        `${a.answered} received, ${a.beforeResponse} before their 202`,
    ]),
    target(
      'free many lines',
      `all moved, no dead letter, /healthz < ${LIMIT_MS} ms`,
      r.bigChange,
      (b) => [
        `${b.reallocated} of ${b.lines} in ${ms(b.seconds)} s (read model ` +
          `${ms(b.readModelSeconds)} s), ${b.deadLetters} dead letters, worst /healthz ` +
          `${int(b.healthzMaxMs)} ms (${b.healthzFailures} failed), event loop ` +
          `${int(b.eventLoopMaxMs)} ms`,
        b.reallocated === b.lines && b.deadLetters === 0 && b.healthzMaxMs < LIMIT_MS,
      ],
    ),
    target('overload admitted p99, load generator', `< ${LIMIT_MS} ms`, o, ({ measurement: m }) => {
      const admitted = m.load.byConnection?.latency2xxAfterFirst ?? m.load.latency2xx;
      return [
        `${m.concurrency} connections: ${int(o!.admittedPerSecond)} admitted/s, p50 ` +
          `${ms(admitted.p50)} ms, p99 ${ms(admitted.p99)} ms (each connection's first answer ` +
          `apart, next row), ${(100 * o!.refusedShare).toFixed(1)}% refused, ` +
          `${o!.listenOverflows} listen overflows`,
        admitted.p99 < LIMIT_MS,
      ];
    }),
    target('overload, a new connection until its first answer', undefined, o, ({ measurement }) => {
      const { concurrency: n, load } = measurement;
      const first = load.byConnection?.firstAnswer;
      if (!first) return ['-'];
      return [
        `${first.count} of ${n} connections, opened as the run began, answered in it: p50 ` +
          `${int(first.p50)} ms, p99 ${int(first.p99)} ms, max ${int(first.max)} ms (libuv ` +
          `accepts one connection per poll round); every 2xx: p99 ${int(load.latency2xx.p99)} ms`,
      ];
    }),
    target("overload admitted p99, service's histogram", `< ${LIMIT_MS} ms`, o, (v) => [
      `<= ${v.service.p99BoundSeconds * 1000} ms (${v.service.admitted} admitted)`,
      v.service.p99BoundSeconds * 1000 <= LIMIT_MS && v.service.admitted > 0,
    ]),
    target('overload admitted p99, one unhurried client', `< ${LIMIT_MS} ms`, o, ({ probe }) => [
      `${probe.admitted} admitted (${probe.refused} refused): p50 ${int(probe.p50)} ms, ` +
        `p99 ${int(probe.p99)} ms, max ${int(probe.max)} ms; ${probe.failed} unanswered, ` +
        `${probe.reconnects} on a new connection`,
      probe.p99 < LIMIT_MS,
    ]),
    target('overload errors', '0 (not 202 or 503 + Retry-After, 202 not stored)', o, (v) => {
      const { load } = v.measurement;
      const errors = load.non2xx - (load.statuses['503'] ?? 0) + load.errors;
      return [
        `${errors} failed, ${v.refusedWithoutRetryAfter} 503 without Retry-After, ` +
          `${v.accepted} 202s / ${v.stored} stored`,
        errors === 0 && v.refusedWithoutRetryAfter === 0 && v.stored >= v.accepted,
      ];
    }),
    target('relay drain vs a minimal SKIP LOCKED + PUBLISH loop', '>= 1.0 x', drain, (d) => {
      const [ours, theirs] = [d.service, d.minimal];
      const cpu = (v: number) => `${(v / d.messages).toFixed(3)}`;
      return [
        `${d.messages} messages over ${d.skus} skus: ${int(ours.perSecond)} vs ` +
          `${int(theirs.perSecond)} msg/s = ${x(ours.perSecond / theirs.perSecond)}; the ` +
          `service's first batch ${ms(ours.pickupSeconds)} s, its last ${ms(ours.seconds)} s ` +
          `after the lease was released; CPU ms per message: relay ${cpu(ours.cpu.serviceMs)} ` +
          `vs ${cpu(theirs.cpu.benchMs)}, ` +
          `PostgreSQL ${cpu(ours.cpu.postgresMs)} vs ${cpu(theirs.cpu.postgresMs)}`,
        ours.perSecond >= theirs.perSecond,
      ];
    }),
    target('hot c32, fresh database vs after VACUUM', '>= 0.9 x', hotFresh, (h) => {
      const share = h.fresh.load.throughput / h.vacuumed.load.throughput;
      return [
        `${int(h.fresh.load.throughput)} vs ${int(h.vacuumed.load.throughput)} req/s = ` +
          `${x(share)}; CPU per allocation ` +
          `${x(cpuPerRequest(h.fresh) / cpuPerRequest(h.vacuumed))}; ` +
          `fresh measured from ${int(h.ageSeconds)} s after the database was created, the outbox ` +
          `then ${h.outbox.dead} dead rows, ${h.outbox.live} live, ` +
          (h.outbox.autovacuumed ? 'autovacuumed' : 'not yet autovacuumed'),
        share >= 0.9,
      ];
    }),
  ];
}

const list = (ratios: number[]) => ratios.map((v) => v.toFixed(2)).join(', ');

function oversold(r: Results): [string, boolean] {
  const checked = r.hot.map((h) => h.checks.consistency);
  if (r.sellout) checked.push(r.sellout.consistency);
  const bad = checked.reduce((n, c) => n + c.oversold + c.mismatched, 0);
  const s = r.sellout;
  const soldRight = !s || (s.allocated === s.stock && s.consistency.units === s.stock);
  const sellout = s
    ? `; sellout: ${s.allocated} of ${s.stock} units to ${s.requests} one-unit orders, ` +
      `${s.outOfStock} out of stock, ${s.failed} failed`
    : '';
  return [`${bad} batches oversold or not matching their lines${sellout}`, bad === 0 && soldRight];
}

/** The largest RSS of the one-process scenarios (the workers scenario runs several). */
function largestRss(r: Results): Measurement | undefined {
  const all = [
    ...(r.healthz ? [r.healthz] : []),
    ...[...r.spread, ...r.hot, ...(r.history?.rows ?? [])].map((row) => row.ours),
    ...(r.read ? [r.read.ours] : []),
    ...(r.allocated ? [r.allocated.measurement] : []),
  ];
  return all.sort((a, b) => (b.rss?.largestMb ?? 0) - (a.rss?.largestMb ?? 0))[0];
}
