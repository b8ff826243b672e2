// The issues' targets, met or not, from one run's results: issue 5's here, issues 9 and 11's
// in scale_targets.ts.
import type { Measurement } from './scenarios';
import type { RssPeak } from './service_process';
import type { Results, Row } from './report';
import { bigChangeTargets, minimalTargets, overloadTargets } from './scale_targets';
import { int, ms, ratio } from './tables';

export interface Target {
  name: string;
  requirement: string;
  measured: string;
  /** undefined when the run did not measure it */
  met: boolean | undefined;
}

const SPREAD_RATIO = 0.6;
const SPREAD_P99_MS = 25;
const HOT_RATIO = 0.6;
const HISTORY_RATIO = 1.2;
const READ_FLOOR = 15_000;
const READ_RATIO = 0.2;
const RSS_LIMIT_MB = 150;

export function evaluateTargets(results: Results): Target[] {
  const targets: Target[] = [];
  const spread16 = results.spread.find((r) => r.ours.concurrency === 16);
  targets.push({
    name: 'spread c16 throughput',
    requirement: `>= ${SPREAD_RATIO} x yardstick allocate (prepared)`,
    measured: spread16 ? throughputVersus(spread16) : 'not run',
    met: spread16?.yardstick ? ratio(spread16) >= SPREAD_RATIO : undefined,
  });
  targets.push({
    name: 'spread c16 p99',
    requirement: `< ${SPREAD_P99_MS} ms`,
    measured: spread16 ? `${ms(spread16.ours.load.latency.p99)} ms` : 'not run',
    met: spread16 ? spread16.ours.load.latency.p99 < SPREAD_P99_MS : undefined,
  });
  const hot32 = results.hot.find((r) => r.ours.concurrency === 32);
  const hotErrors = hot32
    ? hot32.ours.load.non2xx + hot32.ours.load.errors + hot32.checks.unallocated
    : NaN;
  targets.push({
    name: 'hot c32 errors',
    requirement: '0 (non-2xx, no answer, or nothing allocated from stock)',
    measured: hot32
      ? `${hotErrors} (non-2xx ${hot32.ours.load.non2xx}, no answer ${hot32.ours.load.errors}, ` +
        `unallocated ${hot32.checks.unallocated})`
      : 'not run',
    met: hot32 ? hotErrors === 0 : undefined,
  });
  const oversold = oversoldSummary(results);
  targets.push({ name: 'hot oversold', requirement: '0', ...oversold });
  targets.push({
    name: 'hot c32 throughput',
    requirement: `>= ${HOT_RATIO} x yardstick allocate_hot`,
    measured: hot32 ? throughputVersus(hot32) : 'not run',
    met: hot32?.yardstick ? ratio(hot32) >= HOT_RATIO : undefined,
  });
  const history = results.history?.result;
  const historyRatio = history
    ? history.after.load.latency.p50 / history.none.load.latency.p50
    : NaN;
  // CPU per allocation is far less sensitive to the background load than latency: a second view.
  const cpuPerRequest = (m: Measurement) =>
    m.cpu ? (m.cpu.serviceMs + m.cpu.postgresMs) / Math.max(1, m.load.requests) : NaN;
  const cpuRatio = history ? cpuPerRequest(history.after) / cpuPerRequest(history.none) : NaN;
  targets.push({
    name: 'history p50',
    requirement: `after ${history?.earlier ?? 100_000} earlier allocations <= ${HISTORY_RATIO} x after none`,
    measured: history
      ? `${ms(history.after.load.latency.p50)} ms vs ${ms(history.none.load.latency.p50)} ms ` +
        `= ${historyRatio.toFixed(2)} x` +
        (Number.isFinite(cpuRatio)
          ? ` (CPU per allocation, service + PostgreSQL: ${cpuRatio.toFixed(2)} x)`
          : '')
      : 'not run',
    met: history ? historyRatio <= HISTORY_RATIO : undefined,
  });
  const read = results.read;
  const readFloor = read?.yardstick
    ? Math.min(READ_FLOOR, READ_RATIO * read.yardstick.result.tps)
    : NaN;
  targets.push({
    name: 'read c16 throughput',
    requirement: `>= min(${READ_FLOOR} req/s, ${READ_RATIO} x yardstick read_view)`,
    measured: read ? `${throughputVersus(read)}; floor ${int(readFloor)} req/s` : 'not run',
    met: read?.yardstick ? read.ours.load.throughput >= readFloor : undefined,
  });
  // Per process: judged on the scenarios whose service is one process (API_WORKERS=1). The
  // workers scenario runs several processes by design; its RSS is reported in its own table.
  const rss = maxRss(results);
  targets.push({
    name: 'server RSS',
    requirement:
      `<= ${RSS_LIMIT_MB} MB per process, under any single-process scenario ` +
      '(API_WORKERS=1; the workers scenario is reported apart)',
    measured: rss ? `${rss.rss.largestMb.toFixed(0)} MB max (${rss.scenario})` : 'not run',
    met: rss ? rss.rss.largestMb <= RSS_LIMIT_MB : undefined,
  });
  targets.push(
    ...minimalTargets(results),
    ...bigChangeTargets(results),
    ...overloadTargets(results),
  );
  return targets;
}

function throughputVersus(row: Row): string {
  const ours = `${int(row.ours.load.throughput)} req/s`;
  if (!row.yardstick) return ours;
  return `${ours} vs ${int(row.yardstick.result.tps)} tps = ${ratio(row).toFixed(2)} x`;
}

function oversoldSummary(results: Results): { measured: string; met: boolean | undefined } {
  if (results.hot.length === 0 && !results.sellout) return { measured: 'not run', met: undefined };
  let oversold = 0;
  let mismatched = 0;
  for (const hot of results.hot) {
    oversold += hot.checks.consistency.oversold;
    mismatched += hot.checks.consistency.mismatched;
  }
  const parts = [];
  let soldRight = true;
  if (results.sellout) {
    const s = results.sellout;
    oversold += s.consistency.oversold;
    mismatched += s.consistency.mismatched;
    soldRight = s.allocated === s.stock && s.consistency.unitsAllocated === s.stock;
    parts.push(
      `sellout: ${s.allocated} of ${s.stock} units allocated to ${s.requests} one-unit orders at ` +
        `c32, ${s.outOfStock} out of stock, ${s.failed} failed`,
    );
  }
  parts.unshift(`${oversold} oversold batches, ${mismatched} with totals not matching their lines`);
  return { measured: parts.join('; '), met: oversold === 0 && mismatched === 0 && soldRight };
}

function allMeasurements(results: Results): Measurement[] {
  return [
    ...(results.healthz ? [results.healthz] : []),
    ...results.spread.map((r) => r.ours),
    ...results.hot.map((r) => r.ours),
    ...(results.history ? [results.history.none.ours, results.history.after.ours] : []),
    ...(results.read ? [results.read.ours] : []),
    ...(results.allocated ? [results.allocated.measurement] : []),
  ];
}

/** The largest RSS of the single-process scenarios (the workers scenario is not among them). */
function maxRss(results: Results): { rss: RssPeak; scenario: string } | undefined {
  const all = allMeasurements(results).map((m) => ({
    rss: m.rss,
    scenario: `${m.scenario} c${m.concurrency}`,
  }));
  if (results.consumer) all.push({ rss: results.consumer.rss, scenario: 'consumer' });
  return all
    .filter((m) => m.rss.processes <= 1)
    .sort((a, b) => b.rss.largestMb - a.rss.largestMb)[0];
}
