// Issue 9: more clients than the service can serve. 2,000 connections allocate at once; with
// admission control (MAX_INFLIGHT) the service answers what it admits in bounded time and
// refuses the rest at once with 503 + Retry-After. Reported: the admitted throughput and
// latency, the share refused, and that every 202 is in the database.
import { readFileSync } from 'node:fs';
import {
  allocateRequest,
  type BenchContext,
  measure,
  type Measurement,
  newOrderId,
} from './scenarios';
import { type ProbeResult, startProbe } from './overload_probe';
import { seedSkus } from './seed';
import { type Buckets, HistogramReader, quantileBound } from './service_histogram';

export interface OverloadResult {
  measurement: Measurement;
  /** 202s per second in the measured window. */
  admittedPerSecond: number;
  /** 503s over all answers in the measured window. */
  refusedShare: number;
  /** 503s that came without a Retry-After header (warm-up included). */
  refusedWithoutRetryAfter: number;
  /** 202s answered (warm-up included) and order lines the database holds for this run. */
  accepted: number;
  stored: number;
  /** Connections the kernel dropped because a listen queue was full (machine-wide, whole run). */
  listenOverflows: number;
  /** The service's own histogram of its 202s in the measured window (service_histogram.ts). */
  service: { admitted: number; p99BoundSeconds: number };
  /** What one unhurried client saw meanwhile (overload_probe.ts). */
  probe: ProbeResult;
}

export async function runOverload(ctx: BenchContext, connections: number): Promise<OverloadResult> {
  const prefix = `${ctx.runId}-ovl`;
  const skus = (await seedSkus(ctx.pool, prefix, 100)).map((s) => s.sku);
  const overflowsBefore = listenOverflows();
  let accepted = 0;
  let refusedWithoutRetryAfter = 0;
  const histograms: Promise<Buckets>[] = [];
  const reader = new HistogramReader(ctx.origin, '/allocate', 202);
  await reader.open();
  const probe = startProbe({ origin: ctx.origin, skus, orderPrefix: `${prefix}-probe` });
  const probed: Promise<ProbeResult>[] = [];
  const readAdmitted = () => histograms.push(reader.read());
  const window = {
    start: () => {
      readAdmitted();
      probe.measureFromNow();
    },
    end: () => {
      readAdmitted();
      probed.push(probe.stop());
    },
  };
  const measurement = await measure(ctx, 'overload', {
    concurrency: connections,
    onWindow: window,
    // Queued requests may wait long without admission control: count them, do not cut them off.
    timeoutSeconds: 60,
    next: () => allocateRequest(newOrderId(ctx), skus[Math.floor(Math.random() * skus.length)], 1),
    onResponse: (_spec, status, _body, _doneAt, headers) => {
      if (status === 202) accepted++;
      if (status === 503 && headers['retry-after'] === undefined) refusedWithoutRetryAfter++;
    },
  });
  const { rows } = await ctx.pool.query(
    'SELECT count(*)::int AS n FROM order_lines WHERE sku = ANY($1)',
    [skus],
  );
  const load = measurement.load;
  const [from, to] = await Promise.all(histograms).finally(() => reader.close());
  const [probeResult] = await Promise.all(probed);
  const serviceP99 = quantileBound(from, to, 0.99);
  const result: OverloadResult = {
    measurement,
    admittedPerSecond: (load.statuses['202'] ?? 0) / load.seconds,
    refusedShare: (load.statuses['503'] ?? 0) / Math.max(1, load.requests),
    refusedWithoutRetryAfter,
    accepted,
    stored: rows[0].n,
    listenOverflows: listenOverflows() - overflowsBefore,
    service: { admitted: serviceP99.count, p99BoundSeconds: serviceP99.boundSeconds },
    probe: probeResult ?? { admittedMs: [], refused: 0 },
  };
  ctx.log(
    `overload c=${connections}: ${result.admittedPerSecond.toFixed(0)} admitted/s, admitted p50 ` +
      `${load.latency2xx.p50.toFixed(1)} ms p99 ${load.latency2xx.p99.toFixed(1)} ms ` +
      `(service: ${result.service.admitted} admitted, p99 <= ${result.service.p99BoundSeconds} s; ` +
      `one unhurried client: ${describeProbe(result.probe)}), ` +
      `${(100 * result.refusedShare).toFixed(1)}% refused, ${accepted} accepted, ` +
      `${result.stored} stored, ${result.listenOverflows} listen queue overflows`,
  );
  return result;
}

/**
 * TcpExt ListenOverflows from /proc/net/netstat: connections dropped because a listen queue
 * was full (the client retries after 1 s, then 3 s...), which shows up as latency.
 */
function listenOverflows(): number {
  try {
    const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n');
    const names = lines.find((l) => l.startsWith('TcpExt:'))?.split(' ') ?? [];
    const values = lines.filter((l) => l.startsWith('TcpExt:'))[1]?.split(' ') ?? [];
    return Number(values[names.indexOf('ListenOverflows')] ?? NaN);
  } catch {
    return NaN;
  }
}

/** The probe's admitted p99 in ms (Infinity when none was admitted). */
export function probeP99({ admittedMs }: ProbeResult): number {
  if (admittedMs.length === 0) return Infinity;
  const sorted = [...admittedMs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(0.99 * sorted.length))];
}

/** The probe's admitted latencies: how many, p50, p99 and the slowest. */
export function describeProbe(probe: ProbeResult): string {
  const { admittedMs, refused } = probe;
  if (admittedMs.length === 0) return `none admitted, ${refused} refused`;
  const sorted = [...admittedMs].sort((a, b) => a - b);
  return (
    `${sorted.length} admitted (${refused} refused): p50 ` +
    `${sorted[Math.floor(0.5 * sorted.length)].toFixed(0)} ms, p99 ${probeP99(probe).toFixed(0)} ms, ` +
    `max ${sorted[sorted.length - 1].toFixed(0)} ms`
  );
}
