// The Redis side: change_batch_quantity messages per second through the consumer, and the time
// from an allocation's 202 to its line_allocated message (through the outbox relay).
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import {
  allocateRequest,
  type BenchContext,
  measure,
  type Measurement,
  newOrderId,
} from './scenarios';
import { deadLetterCount, purchasedQuantity, seedSkus } from './seed';
import { type RssPeak, sampleRss } from './service_process';
import { type LatencySummary, Samples, summarize } from './stats';

export interface ConsumerThroughput {
  messages: number;
  seconds: number;
  perSecond: number;
  deadLetters: number;
  rss: RssPeak;
}

export interface AllocatedLatency {
  measurement: Measurement;
  answered: number;
  received: number;
  missing: number;
  /** Milliseconds from the 202 being read to the line_allocated message being read. */
  latency: LatencySummary;
  /** Messages that arrived before their 202 did (counted as negative latencies above). */
  beforeResponse: number;
}

const BASE_QTY = 1_000_000;
const WAIT_LIMIT_MS = 120_000;

/**
 * Publishes valid change_batch_quantity messages (quantities that only grow above what is
 * allocated, so nothing is reallocated) as fast as Redis takes them and times how long the
 * service takes to apply them all. The consumer handles messages in order, so the last one
 * applied means all were handled.
 */
export async function runConsumerThroughput(
  ctx: BenchContext,
  redisUrl: string,
): Promise<ConsumerThroughput> {
  const prefix = `${ctx.runId}-cbq`;
  const batchrefs = (await seedSkus(ctx.pool, prefix, 50, { shipments: 0, stock: BASE_QTY })).map(
    (s) => s.batchrefs[0],
  );
  const publisher = new Redis(redisUrl);
  let sent = 0;
  const publishAndWait = async (count: number): Promise<number> => {
    const started = performance.now();
    const pipeline = publisher.pipeline();
    let last = { batchref: '', qty: 0 };
    for (let i = 0; i < count; i++, sent++) {
      last = { batchref: batchrefs[sent % batchrefs.length], qty: BASE_QTY + sent + 1 };
      pipeline.publish('change_batch_quantity', JSON.stringify(last));
    }
    await pipeline.exec();
    const deadline = Date.now() + WAIT_LIMIT_MS;
    while ((await purchasedQuantity(ctx.pool, last.batchref)) !== last.qty) {
      if (Date.now() > deadline) {
        throw new Error(`the consumer did not apply ${count} messages in ${WAIT_LIMIT_MS} ms`);
      }
      await sleep(5);
    }
    return (performance.now() - started) / 1000;
  };
  try {
    // Warm-up, which also sizes the measured batch to last about the configured duration.
    const warmup = Math.max(100, Math.round(ctx.warmupMs / 5));
    const warmupRate = warmup / (await publishAndWait(warmup));
    const messages = clamp(Math.round((warmupRate * ctx.durationMs) / 1000), 500, 100_000);
    const rss = sampleRss(ctx.servicePid);
    const seconds = await publishAndWait(messages);
    const result = {
      messages,
      seconds,
      perSecond: messages / seconds,
      deadLetters: await deadLetterCount(ctx.pool, prefix),
      rss: rss.stop(),
    };
    ctx.log(
      `consumer: ${messages} change_batch_quantity messages in ${seconds.toFixed(2)} s ` +
        `(${result.perSecond.toFixed(0)}/s), ${result.deadLetters} dead letters`,
    );
    return result;
  } finally {
    publisher.disconnect();
  }
}

/** Allocations at modest concurrency while listening on line_allocated. */
export async function runAllocatedLatency(
  ctx: BenchContext,
  redisUrl: string,
  concurrency: number,
): Promise<AllocatedLatency> {
  const skus = (await seedSkus(ctx.pool, `${ctx.runId}-la`, 10)).map((s) => s.sku);
  const answeredAt = new Map<string, number>();
  const receivedAt = new Map<string, number>();
  const subscriber = new Redis(redisUrl);
  subscriber.on('message', (_channel: string, payload: string) => {
    const at = performance.now();
    try {
      const { orderid } = JSON.parse(payload) as { orderid?: string };
      if (typeof orderid === 'string' && orderid.startsWith(ctx.runId)) receivedAt.set(orderid, at);
    } catch {
      // not ours
    }
  });
  try {
    await subscriber.subscribe('line_allocated');
    const measurement = await measure(ctx, 'line_allocated', {
      concurrency,
      next: () =>
        allocateRequest(newOrderId(ctx), skus[Math.floor(Math.random() * skus.length)], 1),
      onResponse: (spec, status, _body, doneAt) => {
        if (status === 202 && spec.tag) answeredAt.set(spec.tag, doneAt);
      },
    });
    const deadline = Date.now() + 15_000;
    while (receivedAt.size < answeredAt.size && Date.now() < deadline) {
      await sleep(50);
    }
    const deltas = new Samples();
    let beforeResponse = 0;
    for (const [orderid, answered] of answeredAt) {
      const received = receivedAt.get(orderid);
      if (received === undefined) continue;
      deltas.push(received - answered);
      if (received < answered) beforeResponse++;
    }
    const result = {
      measurement,
      answered: answeredAt.size,
      received: deltas.length,
      missing: answeredAt.size - deltas.length,
      latency: summarize(deltas.values()),
      beforeResponse,
    };
    ctx.log(
      `202 -> line_allocated: p50 ${result.latency.p50.toFixed(2)} ms, ` +
        `p99 ${result.latency.p99.toFixed(2)} ms over ${result.received} messages, ` +
        `${result.missing} missing, ${beforeResponse} before their 202`,
    );
    return result;
  } finally {
    subscriber.disconnect();
  }
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
