// Allocations on a sku with a long history beside one with none: the cost must not grow.
import { addUsage } from './cpu';
import { combineLoads } from './load';
import {
  allocateRequest,
  type BenchContext,
  logMeasurement,
  maxRss,
  measure,
  type Measurement,
  newOrderId,
} from './scenarios';
import { seedHistory, seedSkus } from './seed';

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
