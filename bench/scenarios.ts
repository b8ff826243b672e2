// The HTTP scenarios of issue 5: spread, hot, history, read, and the generator's own ceiling.
import type { Pool } from 'pg';
import { addUsage, CpuMeter, type CpuSnapshot, type CpuUsage } from './cpu';
import type { ClientKind, Origin } from './http_client';
import {
  combineLoads,
  type LoadOptions,
  type LoadResult,
  type RequestSpec,
  runLoad,
} from './load_generator';
import {
  checkConsistency,
  type Consistency,
  nextXid,
  seedHistory,
  seedReadModel,
  seedSkus,
} from './seed';
import { type RssPeak, sampleRss } from './service_process';

export interface BenchContext {
  origin: Origin;
  pool: Pool;
  servicePid: number;
  /** Unique to the run: every sku, batch and order id starts with it. */
  runId: string;
  warmupMs: number;
  durationMs: number;
  client: ClientKind;
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
  options: Omit<LoadOptions, 'origin' | 'warmupMs' | 'durationMs' | 'client'> &
    Partial<Pick<LoadOptions, 'warmupMs' | 'durationMs'>>,
): Promise<Measurement> {
  const rss = sampleRss(ctx.servicePid);
  let from: CpuSnapshot | undefined;
  let cpu: CpuUsage | undefined;
  const xids: Promise<number>[] = [];
  const load = await runLoad({
    origin: ctx.origin,
    warmupMs: ctx.warmupMs,
    durationMs: ctx.durationMs,
    client: ctx.client,
    onWindow: {
      start: () => {
        from = ctx.cpu.snapshot();
        xids.push(nextXid(ctx.pool));
      },
      end: () => {
        cpu = from && CpuMeter.usage(from, ctx.cpu.snapshot());
        xids.push(nextXid(ctx.pool));
      },
    },
    ...options,
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

function logMeasurement(ctx: BenchContext, { scenario, concurrency, load, rss }: Measurement) {
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

function randomQty(): number {
  return 1 + Math.floor(Math.random() * 10);
}

/** GET /healthz: how many requests the generator itself can drive (no database involved). */
export async function runGeneratorCheck(ctx: BenchContext, concurrency: number) {
  return measure(ctx, 'healthz', {
    concurrency,
    next: () => ({ method: 'GET', path: '/healthz' }),
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

export interface HotResult {
  measurement: Measurement;
  /** 202s that allocated nothing although the sku had stock: each an error here. */
  unallocated: number;
  consistency: Consistency;
}

/** Every allocation on one sku (a fresh one per concurrency), then the invariant checked. */
export async function runHot(ctx: BenchContext, concurrency: number): Promise<HotResult> {
  const [hot] = await seedSkus(ctx.pool, `${ctx.runId}-hot${concurrency}`, 1);
  let unallocated = 0;
  const measurement = await measure(ctx, 'hot', {
    concurrency,
    next: () => allocateRequest(newOrderId(ctx), hot.sku, randomQty()),
    onResponse: (_spec, status, body) => {
      if (status === 202 && body.includes('null')) unallocated++;
    },
  });
  return { measurement, unallocated, consistency: await checkConsistency(ctx.pool, [hot.sku]) };
}

export interface SelloutResult {
  stock: number;
  requests: number;
  allocated: number;
  outOfStock: number;
  failed: number;
  consistency: Consistency;
}

/**
 * The oversell check with stock that runs out: `stock` units in two batches, more one-unit
 * orders than that from `concurrency` clients at once. Exactly `stock` must be allocated.
 */
export async function runSellout(
  ctx: BenchContext,
  concurrency: number,
  stock = 600,
  requests = 800,
): Promise<SelloutResult> {
  const [sku] = await seedSkus(ctx.pool, `${ctx.runId}-sellout`, 1, {
    shipments: 1,
    stock: stock / 2,
  });
  const result = { stock, requests, allocated: 0, outOfStock: 0, failed: 0 };
  const load = await runLoad({
    origin: ctx.origin,
    client: ctx.client,
    concurrency,
    warmupMs: 0,
    durationMs: 60_000,
    maxRequests: requests,
    next: () => allocateRequest(newOrderId(ctx), sku.sku, 1),
    onResponse: (_spec, status, body) => {
      if (status !== 202) result.failed++;
      else if (body.includes('null')) result.outOfStock++;
      else result.allocated++;
    },
  });
  result.failed += load.errors;
  const consistency = await checkConsistency(ctx.pool, [sku.sku]);
  ctx.log(
    `sellout c=${concurrency}: ${result.allocated} allocated of ${stock} in stock, ` +
      `${result.outOfStock} out of stock, ${result.failed} failed, ${consistency.oversold} oversold`,
  );
  return { ...result, consistency };
}

export interface HistoryResult {
  earlier: number;
  none: Measurement;
  after: Measurement;
}

/**
 * Allocations on a sku with no history and on one with `earlier` allocations behind it, in
 * eight segments ordered none, after, after, none, none, after, after, none (a quarter of the
 * duration each), so that drifts in the background load of this shared machine weigh on both
 * alike; each side's latencies are pooled.
 */
export async function runHistory(
  ctx: BenchContext,
  concurrency: number,
  earlier: number,
): Promise<HistoryResult> {
  const [fresh, old] = await seedSkus(ctx.pool, `${ctx.runId}-hist`, 2);
  const started = Date.now();
  await seedHistory(ctx.pool, old, earlier);
  ctx.log(`history: seeded ${earlier} earlier allocations in ${Date.now() - started} ms`);
  const sides = { none: fresh.sku, after: old.sku };
  const measured: Record<keyof typeof sides, Measurement | undefined> = {
    none: undefined,
    after: undefined,
  };
  const order: (keyof typeof sides)[] = ['none', 'after', 'after', 'none'];
  for (const side of [...order, ...order]) {
    const previous = measured[side];
    const segment = await measure(ctx, side === 'none' ? 'history-0' : `history-${earlier}`, {
      concurrency,
      // The service is warm after the first segments: a short warm-up settles the switch of sku.
      warmupMs: previous ? Math.min(1000, ctx.warmupMs) : ctx.warmupMs,
      durationMs: ctx.durationMs / 4,
      next: () => allocateRequest(newOrderId(ctx), sides[side], 1),
    });
    measured[side] = previous ? combineMeasurements(previous, segment) : segment;
  }
  const result = {
    earlier,
    none: measured.none as Measurement,
    after: measured.after as Measurement,
  };
  logMeasurement(ctx, result.none);
  logMeasurement(ctx, result.after);
  return result;
}

function combineMeasurements(a: Measurement, b: Measurement): Measurement {
  return {
    ...a,
    load: combineLoads(a.load, b.load),
    rss: maxRss(a.rss, b.rss),
    cpu: a.cpu && b.cpu ? addUsage(a.cpu, b.cpu) : undefined,
    writeTransactions:
      a.writeTransactions !== undefined && b.writeTransactions !== undefined
        ? a.writeTransactions + b.writeTransactions
        : undefined,
  };
}

/** GET /allocations/:orderid on random orders of `rows` read-model rows. */
export async function runRead(
  ctx: BenchContext,
  concurrency: number,
  rows = 100_000,
): Promise<Measurement> {
  const prefix = `${ctx.runId}-r`;
  await seedReadModel(ctx.pool, prefix, rows);
  return measure(ctx, 'read', {
    concurrency,
    next: () => ({
      method: 'GET',
      path: `/allocations/${prefix}-${1 + Math.floor(Math.random() * rows)}`,
    }),
  });
}
