// The targets of issues 9 and 11: ours beside the minimal servers, freeing many lines with one
// message, and overload.
import { within } from './baseline';
import { MINIMAL_SERVERS, type MinimalServer } from './minimal_servers';
import { describeProbe, probeP99 } from './overload';
import type { Results } from './report';
import { int, ms } from './tables';
import type { Target } from './targets';

const PROBE_LIMIT_MS = 1000;
const OVERLOAD_P99_MS = 1000;

/** Issue 11: ours beside the minimal Koa server doing the same work. */
export function minimalTargets(results: Results): Target[] {
  return (Object.keys(MINIMAL_SERVERS) as MinimalServer[]).map((server) => {
    const { label, ours, target } = MINIMAL_SERVERS[server];
    const row = results.minimal.find((m) => m.server === server);
    return {
      name: `${ours} vs ${label}`,
      requirement: `>= ${target} x`,
      measured: row
        ? `${int(row.ours.load.throughput)} vs ${int(row.theirs.load.throughput)} req/s = ` +
          `${row.ratio.toFixed(2)} x`
        : 'not run',
      met: row ? row.ratio >= target : undefined,
    };
  });
}

/** Issue 9: one message frees 20,000 lines, and the service keeps answering meanwhile. */
export function bigChangeTargets(results: Results): Target[] {
  const b = results.bigChange;
  return [
    {
      name: 'free many lines',
      requirement: `every line re-allocated, none dead-lettered, /healthz < ${PROBE_LIMIT_MS} ms`,
      measured: b
        ? `${b.reallocated} of ${b.lines} ${within(b.seconds)}, ${b.deadLetters} dead letters, ` +
          `worst /healthz ${int(b.healthzMaxMs)} ms, event loop ${int(b.eventLoopMaxMs)} ms`
        : 'not run',
      met: b
        ? b.reallocated === b.lines && b.deadLetters === 0 && b.healthzMaxMs < PROBE_LIMIT_MS
        : undefined,
    },
  ];
}

/** Issue 9: under overload the admitted requests stay fast, the rest are refused at once. */
export function overloadTargets(results: Results): Target[] {
  const o = results.overload;
  const load = o?.measurement.load;
  const failed = load ? load.non2xx - (load.statuses['503'] ?? 0) + load.errors : NaN;
  return [
    {
      name: 'overload admitted p99, as the load generator saw it',
      requirement: `< ${OVERLOAD_P99_MS} ms`,
      measured: load ? `${ms(load.latency2xx.p99)} ms` : 'not run',
      met: load ? load.latency2xx.p99 < OVERLOAD_P99_MS : undefined,
    },
    {
      name: "overload admitted p99, in the service's own histogram",
      requirement: `< ${OVERLOAD_P99_MS} ms`,
      measured: o
        ? `<= ${o.service.p99BoundSeconds * 1000} ms (${o.service.admitted} admitted)`
        : 'not run',
      met: o
        ? o.service.p99BoundSeconds * 1000 <= OVERLOAD_P99_MS && o.service.admitted > 0
        : undefined,
    },
    {
      name: 'overload admitted p99, as one unhurried client saw it',
      requirement: `< ${OVERLOAD_P99_MS} ms`,
      measured: o ? describeProbe(o.probe) : 'not run',
      met: o ? probeP99(o.probe) < OVERLOAD_P99_MS : undefined,
    },
    {
      name: 'overload errors',
      requirement: '0 (answers other than 202 or 503 + Retry-After, no answer, 202 not stored)',
      measured: o
        ? `${failed} failed, ${o.refusedWithoutRetryAfter} 503 without Retry-After, ` +
          `${o.accepted} 202s / ${o.stored} stored`
        : 'not run',
      met: o
        ? failed === 0 && o.refusedWithoutRetryAfter === 0 && o.stored >= o.accepted
        : undefined,
    },
  ];
}
