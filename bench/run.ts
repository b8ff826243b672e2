// The scenarios on one running service, in order, each beside its yardsticks: pgbench at the
// same concurrency, and the minimal Koa server that does the same work under the same load.
import { runBigChange } from './big_change';
import type { Options } from './cli';
import { runAllocatedLatency, runConsumerThroughput } from './consumer';
import { runHistory } from './history';
import { runHot, runSellout } from './hot';
import { besideMinimal, type MinimalServer } from './minimal_servers';
import { runOverload } from './overload';
import type { PgbenchResult } from './pgbench';
import type { Results, Row } from './report';
import {
  type BenchContext,
  type Measurement,
  runHealthz,
  runRead,
  runSpread,
  seedRead,
  seedSpread,
} from './scenarios';
import { nextXid } from './seed';
import type { Yardstick, YardstickScript } from './yardstick';

/** The yardstick's seed: skus sku-1..sku-100 (bench/yardstick/seed.sql). */
const YARDSTICK_SKUS = Array.from({ length: 100 }, (_, i) => `sku-${i + 1}`);
/** The concurrency at which ours meets the minimal servers (issue 11: 16 connections). */
const MINIMAL_AT = 16;

export async function runScenarios(
  options: Options,
  ctx: BenchContext,
  redisUrl: string,
  yardstick: Yardstick | undefined,
  postgresPid: number | undefined,
  results: Results,
): Promise<string[] | undefined> {
  const only = options.only;
  const cache = new Map<string, PgbenchResult>();
  // Each of ours is followed at once by the yardstick at the same concurrency, so both meet
  // about the same background load on this shared machine.
  const beside = async (ours: Measurement, script: YardstickScript): Promise<Row> => {
    if (!yardstick) return { ours };
    const key = `${script}:${ours.concurrency}`;
    let result = cache.get(key);
    if (!result) {
      ctx.log(`yardstick ${script} c=${ours.concurrency}`);
      result = await yardstick.run(
        script,
        ours.concurrency,
        options.warmupSeconds,
        options.durationSeconds,
        { cpu: ctx.cpu, nextXid: () => nextXid(ctx.pool) },
      );
      ctx.log(`yardstick ${script}: ${result.tps.toFixed(0)} tps`);
      cache.set(key, result);
    }
    return { ours, yardstick: { script, result } };
  };
  const minimal = async (
    server: MinimalServer,
    ours: (c: BenchContext) => Promise<Measurement>,
    theirs: (c: BenchContext) => Promise<Measurement>,
  ) => {
    if (!yardstick) return;
    const row = await besideMinimal(ctx, server, yardstick.url, postgresPid, { ours, theirs });
    const rounds = row.ratios.map((ratio) => ratio.toFixed(2)).join(', ');
    ctx.log(`ours / ${server} = ${row.ratio.toFixed(2)} x (median of ${rounds})`);
    results.minimal.push(row);
  };

  if (only.has('healthz')) {
    results.healthz = await runHealthz(ctx, MINIMAL_AT);
    await minimal(
      'koa_hello',
      (c) => runHealthz(c, MINIMAL_AT),
      (c) => runHealthz(c, MINIMAL_AT, 'koa_hello'),
    );
  }
  let skus: string[] | undefined;
  if (only.has('spread')) {
    const spreadSkus = await seedSpread(ctx);
    skus = spreadSkus;
    for (const c of options.spread) {
      const row = await beside(await runSpread(ctx, c, spreadSkus), 'allocate');
      results.spread.push(row);
      if (c === MINIMAL_AT) {
        await minimal(
          'koa_allocate',
          (k) => runSpread(k, c, spreadSkus),
          (k) => runSpread(k, c, YARDSTICK_SKUS, 'koa_allocate'),
        );
      }
    }
  }
  if (only.has('hot')) {
    for (const c of options.hot) {
      const checks = await runHot(ctx, c);
      results.hot.push({ ...(await beside(checks.measurement, 'allocate_hot')), checks });
    }
    results.sellout = await runSellout(ctx, Math.max(...options.hot));
  }
  if (only.has('history')) {
    const result = await runHistory(ctx, options.historyConcurrency, options.historyEarlier);
    results.history = {
      result,
      none: await beside(result.none, 'allocate_hot'),
      after: await beside(result.after, 'allocate_hot'),
    };
  }
  if (only.has('read')) {
    const set = await seedRead(ctx);
    results.read = await beside(await runRead(ctx, options.readConcurrency, set), 'read_view');
    await minimal(
      'koa_select1',
      (c) => runRead(c, options.readConcurrency, set),
      (c) => runRead(c, options.readConcurrency, set, 'koa_select1'),
    );
  }
  if (only.has('consumer')) {
    results.consumer = await runConsumerThroughput(ctx, redisUrl);
    const latency = await runAllocatedLatency(ctx, redisUrl, options.latencyConcurrency);
    results.allocated = { ...latency, row: await beside(latency.measurement, 'allocate') };
  }
  if (only.has('bigchange')) {
    results.bigChange = await runBigChange(ctx, redisUrl, options.bigChangeLines);
  }
  // Last on this service: it leaves thousands of sockets to close and a backlog to drain.
  if (only.has('overload')) {
    results.overload = await runOverload(ctx, options.overloadConnections);
  }
  return skus;
}
