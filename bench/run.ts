// Every scenario, in order, each beside its yardsticks: pgbench at the same concurrency right
// after it (so both meet about the same background load on this shared machine), and the
// minimal Koa server doing the same work, taking turns under the same load. First on one
// service (main.js all) on a new database; then the scenarios that start services of their
// own, each the only one running (the main one's relay and idle CPU must not weigh on them).
import { type Options, OWN_SERVICE } from './cli';
import { runDrain } from './drain';
import * as http from './http_scenarios';
import type { BenchContext, Env, Measurement } from './measure';
import { besideMinimal, type MinimalRow, type MinimalServer } from './minimal';
import { runOverload } from './overload';
import type { Yardstick, YardstickScript } from './pgbench';
import { freshDatabase, withService } from './processes';
import * as redis from './redis_scenarios';

type Of<F extends (...args: never[]) => Promise<unknown>> = Awaited<ReturnType<F>>;

/** One of our measurements beside the yardstick's run at the same concurrency, if any. */
export type Row = { ours: Measurement; yardstick?: Measurement };

export interface Results {
  healthz?: Measurement;
  spread: Row[];
  hot: (Row & { checks: Of<typeof http.runHot>['checks'] })[];
  sellout?: Of<typeof http.runSellout>;
  history?: Of<typeof http.runHistory> & { rows: Row[] };
  read?: Row;
  minimal: MinimalRow[];
  consumer?: Of<typeof redis.runConsumer>;
  allocated?: Of<typeof redis.runAllocatedLatency> & { row: Row };
  bigChange?: Of<typeof redis.runBigChange>;
  drain?: Of<typeof runDrain>;
  overload?: Of<typeof runOverload>;
  workers?: { apiWorkers: number; measurements: Measurement[] }[];
  hotFresh?: Of<typeof runHotFresh>;
  serviceLog: string[];
}

/** The yardstick's seed: skus sku-1..sku-100 (bench/yardstick/seed.sql). */
const YARDSTICK_SKUS = Array.from({ length: 100 }, (_, i) => `sku-${i + 1}`);
/** The concurrency at which ours meets the minimal servers (issue 11: 16 connections). */
const MINIMAL_AT = 16;

export async function runAll(options: Options, env: Env, yardstick?: Yardstick): Promise<Results> {
  const results: Results = { spread: [], hot: [], minimal: [], serviceLog: env.serviceLog };
  const { only } = options;
  env.log('a new database allocation_bench for the service');
  const databaseUrl = await freshDatabase(env, 'allocation_bench');
  let spreadSkus: Promise<string[]> | undefined;
  const spread = (ctx: BenchContext) => (spreadSkus ??= http.seedSpread(ctx));
  const profileDir = `${env.serviceRoot}/.data/bench-profile/${Date.now()}`;
  const nodeArgs = options.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  if ([...only].some((s) => !OWN_SERVICE.includes(s))) {
    const onMain = (ctx: BenchContext) => onMainService(options, ctx, yardstick, spread, results);
    await withService(env, databaseUrl, onMain, { nodeArgs });
    if (options.profile) env.log(`CPU profiles of the service: ${profileDir} (Chrome DevTools)`);
  }
  for (const apiWorkers of only.has('workers') ? options.apiWorkers : []) {
    const measured: Measurement[] = [];
    const scenario = `workers-${apiWorkers}`;
    await withService(
      env,
      databaseUrl,
      async (ctx) => {
        for (const c of options.workers) {
          measured.push(await http.runSpread(ctx, c, await spread(ctx), scenario));
        }
      },
      { apiWorkers },
    );
    (results.workers ??= []).push({ apiWorkers, measurements: measured });
  }
  if (only.has('hotfresh')) results.hotFresh = await runHotFresh(env, 32);
  return results;
}

/**
 * Issue 23: hot c32 on a service whose database was created seconds before, again on the now
 * warm service (a cold process is not a fresh database), then after a VACUUM ANALYZE: how far a
 * busy service stands from the vacuumed state until autovacuum first visits (every delivered
 * message leaves a dead outbox row; tables never analysed have no statistics). Age: seconds from
 * creating the database to the fresh run's window; the outbox as the VACUUM found it.
 */
async function runHotFresh(env: Env, c: number) {
  const created = Date.now();
  const url = await freshDatabase(env, 'allocation_bench_fresh');
  env.log(`hotfresh: hot c${c} on a new database, then after VACUUM ANALYZE`);
  return withService(env, url, async (ctx) => {
    const ageSeconds = (Date.now() - created + env.warmupMs) / 1000;
    const fresh = (await http.runHot(ctx, c, 'hot-fresh')).measurement;
    const again = (await http.runHot(ctx, c, 'hot-again')).measurement;
    const { rows } = await ctx.pool.query<{ dead: number; live: number; autovacuumed: boolean }>(
      `SELECT n_dead_tup::int AS dead, n_live_tup::int AS live, autovacuum_count > 0 AS autovacuumed
       FROM pg_stat_user_tables WHERE relname = 'outbox'`,
    );
    await ctx.pool.query('VACUUM ANALYZE');
    const vacuumed = (await http.runHot(ctx, c, 'hot-vacuumed')).measurement;
    return { fresh, again, vacuumed, ageSeconds, outbox: rows[0] };
  });
}

async function onMainService(
  options: Options,
  ctx: BenchContext,
  yardstick: Yardstick | undefined,
  spread: (ctx: BenchContext) => Promise<string[]>,
  results: Results,
): Promise<void> {
  const { only } = options;
  const done = new Map<string, Measurement>();
  const beside = async (ours: Measurement, script: YardstickScript): Promise<Row> => {
    const key = `${script} c${ours.concurrency}`;
    if (yardstick && !done.has(key)) {
      done.set(key, await yardstick.run(script, ours.concurrency, options.warmupSeconds, ctx));
      ctx.log(`yardstick ${key}: ${done.get(key)?.load.throughput.toFixed(0)} tps`);
    }
    return { ours, yardstick: done.get(key) };
  };
  type Load = (c: BenchContext) => Promise<Measurement>;
  const minimal = async (server: MinimalServer, ours: Load, theirs: Load) => {
    if (!yardstick) return;
    const row = await besideMinimal(ctx, server, yardstick.url, { ours, theirs });
    const rounds = row.ratios.map((ratio) => ratio.toFixed(2)).join(', ');
    ctx.log(`ours / ${server} = ${row.ratio.toFixed(2)} x (median of ${rounds})`);
    results.minimal.push(row);
  };

  if (only.has('healthz')) {
    results.healthz = await http.runHealthz(ctx, MINIMAL_AT);
    const theirs: Load = (c) => http.runHealthz(c, MINIMAL_AT, 'koa_hello');
    await minimal('koa_hello', (c) => http.runHealthz(c, MINIMAL_AT), theirs);
  }
  if (only.has('spread')) {
    const skus = await spread(ctx);
    await http.warmUpAllocations(ctx, skus);
    for (const c of options.spread) {
      results.spread.push(await beside(await http.runSpread(ctx, c, skus), 'allocate'));
      if (c !== MINIMAL_AT) continue;
      const theirs: Load = (k) => http.runSpread(k, c, YARDSTICK_SKUS, 'koa_allocate');
      await minimal('koa_allocate', (k) => http.runSpread(k, c, skus), theirs);
    }
  }
  if (only.has('hot')) {
    for (const c of options.hot) {
      const { measurement, checks } = await http.runHot(ctx, c);
      results.hot.push({ ...(await beside(measurement, 'allocate_hot')), checks });
    }
    results.sellout = await http.runSellout(ctx, Math.max(...options.hot));
  }
  if (only.has('history')) {
    const history = await http.runHistory(ctx, 4, options.historyEarlier);
    const none = await beside(history.none, 'allocate_hot');
    results.history = { ...history, rows: [none, await beside(history.after, 'allocate_hot')] };
  }
  if (only.has('read')) {
    const set = await http.seedRead(ctx);
    results.read = await beside(await http.runRead(ctx, 16, set), 'read_view');
    const theirs: Load = (c) => http.runRead(c, 16, set, 'koa_select1');
    await minimal('koa_select1', (c) => http.runRead(c, 16, set), theirs);
  }
  if (only.has('consumer')) {
    results.consumer = await redis.runConsumer(ctx);
    const latency = await redis.runAllocatedLatency(ctx, 4);
    results.allocated = { ...latency, row: await beside(latency.measurement, 'allocate') };
  }
  if (only.has('bigchange'))
    results.bigChange = await redis.runBigChange(ctx, options.bigChangeLines);
  if (only.has('drain')) results.drain = await runDrain(ctx, options.drainMessages);
  // last on this service: it leaves thousands of sockets to close and a backlog to drain
  if (only.has('overload')) results.overload = await runOverload(ctx, options.overloadConnections);
}
