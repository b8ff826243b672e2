// What every HTTP scenario shares (the context, one measured load), and the simple ones:
// spread, read, and GET /healthz.
import type { Pool } from 'pg';
import { CpuMeter, type CpuSnapshot, type CpuUsage } from './cpu';
import { type LoadOptions, type LoadResult, type Origin, type RequestSpec, runLoad } from './load';
import { nextXid, seedReadModel, seedSkus } from './seed';
import { type RssPeak, sampleRss } from './service_process';

export interface BenchContext {
  origin: Origin;
  pool: Pool;
  servicePid: number;
  /** Unique to the run: every sku, batch and order id starts with it. */
  runId: string;
  warmupMs: number;
  durationMs: number;
  cpu: CpuMeter;
  log: (msg: string) => void;
}

export interface Measurement {
  scenario: string;
  concurrency: number;
  load: LoadResult;
  /** Resident memory of the service (all its processes) while this ran. */
  rss: RssPeak;
  /** CPU used during the measured window; undefined if the window was cut short. */
  cpu?: CpuUsage;
  /** PostgreSQL write transactions (transaction ids used) during the measured window. */
  writeTransactions?: number;
}

/** Runs one load while sampling the service's memory. */
export async function measure(
  ctx: BenchContext,
  scenario: string,
  options: Omit<LoadOptions, 'origin' | 'warmupMs' | 'durationMs' | 'onWindow'> &
    Partial<Pick<LoadOptions, 'warmupMs' | 'durationMs' | 'onWindow'>>,
): Promise<Measurement> {
  const rss = sampleRss(ctx.servicePid);
  let from: CpuSnapshot | undefined;
  let cpu: CpuUsage | undefined;
  const xids: Promise<number>[] = [];
  const load = await runLoad({
    ...options,
    origin: ctx.origin,
    warmupMs: options.warmupMs ?? ctx.warmupMs,
    durationMs: options.durationMs ?? ctx.durationMs,
    onWindow: {
      start: () => {
        from = ctx.cpu.snapshot();
        xids.push(nextXid(ctx.pool));
        options.onWindow?.start();
      },
      end: () => {
        cpu = from && CpuMeter.usage(from, ctx.cpu.snapshot());
        xids.push(nextXid(ctx.pool));
        options.onWindow?.end();
      },
    },
  });
  const [xidFrom, xidTo] = await Promise.all(xids);
  const measurement: Measurement = {
    scenario,
    concurrency: options.concurrency,
    load,
    rss: rss.stop(),
    cpu,
    writeTransactions: xidTo !== undefined ? xidTo - xidFrom : undefined,
  };
  logMeasurement(ctx, measurement);
  return measurement;
}

export function logMeasurement(
  ctx: BenchContext,
  { scenario, concurrency, load, rss }: Measurement,
) {
  ctx.log(
    `${scenario} c=${concurrency}: ${load.throughput.toFixed(0)} req/s, ` +
      `p50 ${load.latency.p50.toFixed(2)} ms, p99 ${load.latency.p99.toFixed(2)} ms, ` +
      `non-2xx ${load.non2xx}, no answer ${load.errors}, RSS ${describeRss(rss)}`,
  );
}

export function maxRss(a: RssPeak, b: RssPeak): RssPeak {
  return {
    totalMb: Math.max(a.totalMb, b.totalMb),
    largestMb: Math.max(a.largestMb, b.largestMb),
    processes: Math.max(a.processes, b.processes),
  };
}

export function describeRss(rss: RssPeak): string {
  const detail = rss.processes > 1 ? ` in ${rss.processes} processes` : '';
  return `${rss.totalMb.toFixed(0)} MB${detail}`;
}

let orderCounter = 0;

/** Order ids unique across the run (and, through runId, across runs). */
export function newOrderId(ctx: BenchContext): string {
  return `${ctx.runId}-o${++orderCounter}`;
}

export function allocateRequest(orderid: string, sku: string, qty: number): RequestSpec {
  return {
    method: 'POST',
    path: '/allocate',
    body: `{"orderid":"${orderid}","sku":"${sku}","qty":${qty}}`,
    tag: orderid,
  };
}

export function randomQty(): number {
  return 1 + Math.floor(Math.random() * 10);
}

/** GET /healthz: the cost of a request that does no work (no database involved). */
export async function runHealthz(ctx: BenchContext, concurrency: number, scenario = 'healthz') {
  return measure(ctx, scenario, {
    concurrency,
    next: { method: 'GET', path: '/healthz' },
  });
}

/** 100 skus x 3 batches, a random sku per allocation. */
export async function runSpread(
  ctx: BenchContext,
  concurrency: number,
  skus: string[],
  scenario = 'spread',
): Promise<Measurement> {
  return measure(ctx, scenario, {
    concurrency,
    next: () =>
      allocateRequest(newOrderId(ctx), skus[Math.floor(Math.random() * skus.length)], randomQty()),
  });
}

export async function seedSpread(ctx: Pick<BenchContext, 'pool' | 'runId'>): Promise<string[]> {
  return (await seedSkus(ctx.pool, `${ctx.runId}-spread`, 100)).map((s) => s.sku);
}

/** Read-model rows to read: `${runId}-r-1..rows`. */
export async function seedRead(ctx: BenchContext, rows = 100_000): Promise<ReadSet> {
  const prefix = `${ctx.runId}-r`;
  await seedReadModel(ctx.pool, prefix, rows);
  return { prefix, rows };
}

export interface ReadSet {
  prefix: string;
  rows: number;
}

/** GET /allocations/:orderid on random orders of the read set. */
export async function runRead(
  ctx: BenchContext,
  concurrency: number,
  { prefix, rows }: ReadSet,
  scenario = 'read',
): Promise<Measurement> {
  return measure(ctx, scenario, {
    concurrency,
    next: () => ({
      method: 'GET',
      path: `/allocations/${prefix}-${1 + Math.floor(Math.random() * rows)}`,
    }),
  });
}
