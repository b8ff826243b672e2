// One sku for every client: throughput under contention, then the oversell check.
import { runLoad } from './load';
import {
  allocateRequest,
  type BenchContext,
  measure,
  type Measurement,
  newOrderId,
  randomQty,
} from './scenarios';
import { checkConsistency, type Consistency, seedSkus } from './seed';

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
    concurrency,
    warmupMs: 0,
    durationMs: 0,
    amount: requests,
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
