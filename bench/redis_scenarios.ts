// The Redis side: change_batch_quantity messages per second through the consumer, the time from
// an allocation's 202 to its line_allocated message, and (issue 9) one change_batch_quantity
// that frees many lines, timed until every freed line is allocated again.
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { summarize } from './load';
import { allocation, type BenchContext, measure } from './measure';
import { resetRssPeak, rssPeak } from './proc';
import { queryNumber, seedHistory, seedSkus, waitUntil } from './seed';

const DEAD_LETTERS = 'SELECT count(*) FROM dead_letters WHERE position($1 in payload) > 0';

/**
 * Publishes valid change_batch_quantity messages (growing quantities, so nothing is
 * reallocated) as fast as Redis takes them, and times how long the service takes to apply them
 * all: the consumer handles them in order, so the last one applied means all were.
 */
export async function runConsumer(ctx: BenchContext) {
  const base = 1_000_000;
  const prefix = `${ctx.runId}-cbq`;
  const seeded = await seedSkus(ctx.pool, prefix, 50, { shipments: 0, stock: base });
  const refs = seeded.map((s) => s.batchrefs[0]);
  const publisher = new Redis(ctx.redisUrl);
  let sent = 0;
  const publishAndWait = async (count: number): Promise<number> => {
    const started = performance.now();
    const pipeline = publisher.pipeline();
    for (const end = sent + count; sent < end; sent++) {
      const message = { batchref: refs[sent % refs.length], qty: base + sent + 1 };
      pipeline.publish('change_batch_quantity', JSON.stringify(message));
    }
    await pipeline.exec();
    const sql = 'SELECT purchased_quantity FROM batches WHERE reference = $1';
    const last = () => queryNumber(ctx.pool, sql, [refs[(sent - 1) % refs.length]]);
    if (!(await waitUntil(async () => (await last()) >= base + sent, 5))) {
      throw new Error(`the consumer did not apply ${count} messages in 300 s`);
    }
    return (performance.now() - started) / 1000;
  };
  try {
    // the warm-up sizes the measured batch to last about the configured duration
    const warmup = Math.max(100, Math.round(ctx.warmupMs / 5));
    const rate = warmup / (await publishAndWait(warmup));
    const messages = Math.min(100_000, Math.max(500, Math.round((rate * ctx.durationMs) / 1000)));
    resetRssPeak(ctx.servicePid);
    const seconds = await publishAndWait(messages);
    const deadLetters = await queryNumber(ctx.pool, DEAD_LETTERS, [prefix]);
    ctx.log(`consumer: ${messages} messages in ${seconds.toFixed(2)} s`);
    const rss = rssPeak(ctx.servicePid);
    return { messages, seconds, perSecond: messages / seconds, deadLetters, rss };
  } finally {
    publisher.disconnect();
  }
}

/**
 * One-unit allocations at modest concurrency on 10 skus, listening on line_allocated: ms from
 * reading each 202 to reading its message (negative when the message came first).
 */
export async function runAllocatedLatency(ctx: BenchContext, c: number) {
  const skus = (await seedSkus(ctx.pool, `${ctx.runId}-la`, 10)).map((s) => s.sku);
  const [answeredAt, receivedAt] = [new Map<string, number>(), new Map<string, number>()];
  const subscriber = new Redis(ctx.redisUrl);
  subscriber.on('message', (_channel: string, payload: string) => {
    const orderid = /"orderid":"([^"]+)"/.exec(payload)?.[1];
    if (orderid?.startsWith(ctx.runId)) receivedAt.set(orderid, performance.now());
  });
  try {
    await subscriber.subscribe('line_allocated');
    const measurement = await measure(ctx, 'line_allocated', {
      concurrency: c,
      next: () => allocation(ctx, skus, 1),
      onResponse: (spec, status) => {
        if (status === 202 && spec.tag) answeredAt.set(spec.tag, performance.now());
      },
    });
    const end = Date.now() + 15_000;
    while (receivedAt.size < answeredAt.size && Date.now() < end) await sleep(50);
    const deltas = [...answeredAt].flatMap(([id, at]) => {
      const received = receivedAt.get(id);
      return received === undefined ? [] : [received - at];
    });
    const [latency, answered, received] = [summarize(deltas), answeredAt.size, deltas.length];
    ctx.log(`202 -> line_allocated: p99 ${latency.p99.toFixed(2)} ms, ${received} received`);
    return {
      measurement,
      answered,
      received,
      latency,
      beforeResponse: deltas.filter((d) => d < 0).length,
    };
  } finally {
    subscriber.disconnect();
  }
}

/**
 * One change_batch_quantity sets a batch holding `lines` one-unit lines to 0; another batch of
 * the sku has room for all: seconds from publishing it until every line is counted there, and
 * until the read model shows them all. Meanwhile: the service's own worst event-loop delay
 * (prom-client's nodejs_eventloop_lag_max_seconds, reset at each scrape) and the worst GET
 * /healthz of a probe asking every 100 ms.
 */
export async function runBigChange(ctx: BenchContext, lines: number) {
  const prefix = `${ctx.runId}-big`;
  const [sku] = await seedSkus(ctx.pool, prefix, 1, { shipments: 1, stock: lines });
  const [full, roomy] = sku.batchrefs;
  await seedHistory(ctx.pool, sku, lines);
  ctx.log(`bigchange: ${lines} lines on ${full}; freeing them all with one message`);
  const base = `http://${ctx.origin.host}:${ctx.origin.port}`;
  const eventLoopMax = async () => {
    const text = await (await fetch(`${base}/metrics`)).text();
    const match = /^nodejs_eventloop_lag_max_seconds(?:\{[^}]*\})? ([\d.e+-]+)$/m.exec(text);
    return match ? Number(match[1]) * 1000 : NaN;
  };
  await eventLoopMax(); // a scrape resets the histogram
  const probe = { running: true, maxMs: 0, failures: 0 };
  const probing = (async () => {
    for (; probe.running; await sleep(100)) {
      const sent = performance.now();
      const response = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(10_000) })
        .then((r) => r.arrayBuffer().then(() => r.ok))
        .catch(() => false);
      if (!response) probe.failures++;
      probe.maxMs = Math.max(probe.maxMs, performance.now() - sent);
    }
  })();
  const publisher = new Redis(ctx.redisUrl);
  const started = performance.now();
  await publisher.publish('change_batch_quantity', JSON.stringify({ batchref: full, qty: 0 }));
  publisher.disconnect();
  const count = (sql: string) => () => queryNumber(ctx.pool, sql, [roomy]);
  const onRoomy = `SELECT count(*) FROM allocations a JOIN batches b ON b.id = a.batch_id
                   WHERE b.reference = $1`;
  const moved = await waitUntil(async () => (await count(onRoomy)()) >= lines, 50);
  const seconds = moved ? (performance.now() - started) / 1000 : NaN;
  // the read model follows the write side; a scan of it is asked less often
  const viewSql = 'SELECT count(*) FROM allocations_view WHERE batchref = $1';
  const shown = moved && (await waitUntil(async () => (await count(viewSql)()) >= lines, 250));
  const readModelSeconds = shown ? (performance.now() - started) / 1000 : NaN;
  probe.running = false;
  await probing;
  ctx.log(`bigchange: ${lines} lines in ${seconds.toFixed(2)} s`);
  return {
    lines,
    reallocated: await count(onRoomy)(),
    seconds,
    readModelSeconds,
    eventLoopMaxMs: await eventLoopMax(),
    healthzMaxMs: probe.maxMs,
    healthzFailures: probe.failures,
    deadLetters: await queryNumber(ctx.pool, DEAD_LETTERS, [prefix]),
  };
}
