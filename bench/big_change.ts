// Issue 9: one change_batch_quantity that frees many lines (20,000 by default), timed from its
// publication until every freed line is allocated again, and how well the service kept
// answering meanwhile: its own worst event-loop delay (prom-client's
// nodejs_eventloop_lag_max_seconds, from perf_hooks.monitorEventLoopDelay, reset at each
// scrape) and the worst GET /healthz of a probe that asks every 100 ms.
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import type { BenchContext } from './scenarios';
import { deadLetterCount, seedHistory, seedSkus } from './seed';

export interface BigChangeResult {
  lines: number;
  /** Publication to the last line counted on the other batch; NaN if it never got there. */
  seconds: number;
  reallocated: number;
  /** Publication to every line showing its new batch in GET /allocations (the read model). */
  readModelSeconds: number;
  eventLoopMaxMs: number;
  healthzMaxMs: number;
  healthzFailures: number;
  deadLetters: number;
}

export const WAIT_LIMIT_MS = 300_000;
const PROBE_EVERY_MS = 100;

export async function runBigChange(
  ctx: BenchContext,
  redisUrl: string,
  lines: number,
): Promise<BigChangeResult> {
  const prefix = `${ctx.runId}-big`;
  // A warehouse batch holding `lines` one-unit lines, and a shipment with room for all of them.
  const [sku] = await seedSkus(ctx.pool, prefix, 1, { shipments: 1, stock: lines });
  const [full, roomy] = sku.batchrefs;
  await seedHistory(ctx.pool, sku, lines);
  ctx.log(`bigchange: ${lines} lines on ${full}; freeing them all with one message`);

  await eventLoopMaxMs(ctx); // a scrape resets the service's event-loop histogram
  const probe = probeHealthz(ctx);
  const publisher = new Redis(redisUrl);
  const started = performance.now();
  try {
    await publisher.publish('change_batch_quantity', JSON.stringify({ batchref: full, qty: 0 }));
  } finally {
    publisher.disconnect();
  }
  const count = (sql: string) => async () => Number((await ctx.pool.query(sql, [roomy])).rows[0].n);
  const reallocated = await waitFor(
    count(
      `SELECT count(*) AS n FROM allocations a JOIN batches b ON b.id = a.batch_id
       WHERE b.reference = $1`,
    ),
    lines,
    50,
  );
  const seconds = reallocated.reached ? (performance.now() - started) / 1000 : NaN;
  // The read model follows through the outbox: only worth waiting for once the write side is.
  const shown = reallocated.reached
    ? await waitFor(
        // a scan of the whole read model: asked less often, not to weigh on what it measures
        count('SELECT count(*) AS n FROM allocations_view WHERE batchref = $1'),
        lines,
        250,
      )
    : { reached: false, value: 0 };
  const readModelSeconds = shown.reached ? (performance.now() - started) / 1000 : NaN;
  const probed = await probe.stop();
  const result: BigChangeResult = {
    lines,
    seconds,
    reallocated: reallocated.value,
    readModelSeconds,
    eventLoopMaxMs: await eventLoopMaxMs(ctx),
    healthzMaxMs: probed.maxMs,
    healthzFailures: probed.failures,
    deadLetters: await deadLetterCount(ctx.pool, prefix),
  };
  ctx.log(
    `bigchange: ${result.reallocated} of ${lines} lines re-allocated in ${seconds.toFixed(2)} s ` +
      `(read model ${readModelSeconds.toFixed(2)} s), worst event-loop delay ` +
      `${result.eventLoopMaxMs.toFixed(0)} ms, worst /healthz ${result.healthzMaxMs.toFixed(0)} ms, ` +
      `${result.deadLetters} dead letters`,
  );
  return result;
}

async function waitFor(
  read: () => Promise<number>,
  target: number,
  everyMs: number,
): Promise<{ reached: boolean; value: number }> {
  const deadline = Date.now() + WAIT_LIMIT_MS;
  for (;;) {
    const value = await read();
    if (value >= target) return { reached: true, value };
    if (Date.now() > deadline) return { reached: false, value };
    await sleep(everyMs);
  }
}

/** nodejs_eventloop_lag_max_seconds from GET /metrics, in ms, since the previous scrape. */
async function eventLoopMaxMs(ctx: BenchContext): Promise<number> {
  const response = await fetch(`http://${ctx.origin.host}:${ctx.origin.port}/metrics`);
  const text = await response.text();
  const match = /^nodejs_eventloop_lag_max_seconds(?:\{[^}]*\})? ([\d.e+-]+)$/m.exec(text);
  return match ? Number(match[1]) * 1000 : NaN;
}

/** GET /healthz every PROBE_EVERY_MS (one at a time); the slowest answer and the failures. */
function probeHealthz(ctx: BenchContext): { stop(): Promise<{ maxMs: number; failures: number }> } {
  let running = true;
  let maxMs = 0;
  let failures = 0;
  const url = `http://${ctx.origin.host}:${ctx.origin.port}/healthz`;
  const loop = (async () => {
    while (running) {
      const sent = performance.now();
      try {
        const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
        await response.arrayBuffer();
        if (!response.ok) failures++;
      } catch {
        failures++;
      }
      maxMs = Math.max(maxMs, performance.now() - sent);
      await sleep(PROBE_EVERY_MS);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { maxMs, failures };
    },
  };
}
