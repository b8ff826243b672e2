// The HTTP scenarios: GET /healthz, spread, read, hot (with the oversell checks) and history.
import { allocation, type BenchContext, measure, type Measurement, takeTurns } from './measure';
import { checkConsistency, seedHistory, seedSkus } from './seed';
import { runLoad } from './load';

/** GET /healthz: the cost of a request that does no work (no database involved). */
export function runHealthz(ctx: BenchContext, concurrency: number, scenario = 'healthz') {
  return measure(ctx, scenario, { concurrency, next: { method: 'GET', path: '/healthz' } });
}

/** 100 skus x 3 batches. */
export async function seedSpread(ctx: Pick<BenchContext, 'pool' | 'runId'>): Promise<string[]> {
  return (await seedSkus(ctx.pool, `${ctx.runId}-spread`, 100)).map((s) => s.sku);
}

// A service in use runs JIT-compiled code; one just started does not. Spread c1, the first
// allocations a fresh service sees in a full run, counted V8 compiling on its worker threads
// in its measured window (--trace-opt: 260 of the 513 TurboFan compilations of the run; about
// 0.18 of a core at c1, beside the event loop's 0.54). c1's service CPU per allocation measured
// 2.04 / 2.05 ms right after start, 1.44 / 1.51 ms after 20 s of c1, 1.50 / 1.28 ms after this
// warm-up (2026-12-07, a slow day). pgbench, the yardstick, has nothing to warm.
const JIT_WARMUP_MS = 10_000;

/** Unmeasured allocations at c16, before the first measured spread (see JIT_WARMUP_MS). */
export async function warmUpAllocations(ctx: BenchContext, skus: string[]): Promise<void> {
  ctx.log(`spread: ${JIT_WARMUP_MS / 1000} s of unmeasured allocations at c16 (JIT warm-up)`);
  const next = () => allocation(ctx, skus);
  await runLoad({
    origin: ctx.origin,
    concurrency: 16,
    warmupMs: 0,
    durationMs: JIT_WARMUP_MS,
    next,
  });
}

/** Allocations of 1 to 10 units on a random sku. */
export function runSpread(ctx: BenchContext, c: number, skus: string[], scenario = 'spread') {
  return measure(ctx, scenario, { concurrency: c, next: () => allocation(ctx, skus) });
}

/** Read-model rows to read, one allocation each: `${runId}-r-1..rows`. */
export async function seedRead(ctx: BenchContext, rows = 100_000) {
  const prefix = `${ctx.runId}-r`;
  await ctx.pool.query(
    `INSERT INTO allocations_view (orderid, sku, batchref)
     SELECT $1 || '-' || i, 'sku-' || (1 + i % 100), 'batch-' || (1 + i % 100)
     FROM generate_series(1, $2::int) AS i`,
    [prefix, rows],
  );
  await ctx.pool.query('ANALYZE allocations_view');
  return { prefix, rows };
}

/** GET /allocations/:orderid on random orders of the read set. */
export function runRead(
  ctx: BenchContext,
  c: number,
  set: { prefix: string; rows: number },
  scenario = 'read',
) {
  const path = () => `/allocations/${set.prefix}-${1 + Math.floor(Math.random() * set.rows)}`;
  return measure(ctx, scenario, { concurrency: c, next: () => ({ method: 'GET', path: path() }) });
}

/**
 * Every allocation on one sku (a new one each time), then the invariant checked; unallocated:
 * 202s that allocated nothing although the sku had stock (each an error here).
 */
export async function runHot(ctx: BenchContext, concurrency: number, scenario = 'hot') {
  const [{ sku }] = await seedSkus(ctx.pool, `${ctx.runId}-${scenario}${concurrency}`, 1);
  let unallocated = 0;
  const measurement = await measure(ctx, scenario, {
    concurrency,
    next: () => allocation(ctx, [sku]),
    onResponse: (_spec, status, body) => {
      if (status === 202 && body.includes('null')) unallocated++;
    },
  });
  const checks = { unallocated, consistency: await checkConsistency(ctx.pool, [sku]) };
  return { measurement, checks };
}

/**
 * The oversell check with stock that runs out: `stock` units in two batches, more one-unit
 * orders than that from `concurrency` clients at once. Exactly `stock` must be allocated.
 */
export async function runSellout(ctx: BenchContext, concurrency: number, stock = 600) {
  const requests = 800;
  const options = { shipments: 1, stock: stock / 2 };
  const [{ sku }] = await seedSkus(ctx.pool, `${ctx.runId}-sellout`, 1, options);
  const result = { stock, requests, allocated: 0, outOfStock: 0, failed: 0 };
  const { load } = await measure(ctx, 'sellout', {
    concurrency,
    amount: requests,
    next: () => allocation(ctx, [sku], 1),
    onResponse: (_spec, status, body) => {
      if (status !== 202) result.failed++;
      else if (body.includes('null')) result.outOfStock++;
      else result.allocated++;
    },
  });
  result.failed += load.errors;
  const consistency = await checkConsistency(ctx.pool, [sku]);
  return { ...result, consistency };
}

/**
 * One-unit allocations on a sku with no history and on one with `earlier` allocations behind
 * it, taking turns (half the measured time each), so drifts in this shared machine's
 * background load weigh on both alike. The round whose p50 ratio (after over none) is the
 * median is kept, and every round's ratio listed.
 */
export async function runHistory(ctx: BenchContext, c: number, earlier: number) {
  const [fresh, old] = await seedSkus(ctx.pool, `${ctx.runId}-hist`, 2);
  const started = Date.now();
  await seedHistory(ctx.pool, old, earlier);
  ctx.log(`history: seeded ${earlier} earlier allocations in ${Date.now() - started} ms`);
  const round = { ...ctx, warmupMs: Math.min(ctx.warmupMs, 2_000), durationMs: ctx.durationMs / 2 };
  const on = (sku: string, scenario: string) => () =>
    measure(round, scenario, {
      concurrency: c,
      next: () => allocation(ctx, [sku], 1),
    });
  const p50 = (a: Measurement, b: Measurement) => a.load.latency.p50 / b.load.latency.p50;
  const turns = await takeTurns(on(old.sku, `history-${earlier}`), on(fresh.sku, 'history-0'), p50);
  return { earlier, after: turns.a, none: turns.b, ratio: turns.ratio, ratios: turns.ratios };
}
