// `make bench`: the service under load beside the pgbench yardstick, in one run, on one server.
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { Pool } from 'pg';
import { findRepoRoot } from '../tools/services';
import { chartSvg } from './chart';
import { CpuMeter, postmasterOf } from './cpu';
import { type Options, parseArgs, SCENARIOS, USAGE, UsageError } from './cli';
import { runAllocatedLatency, runConsumerThroughput } from './consumer';
import { describeMachine } from './machine';
import type { PgbenchResult } from './pgbench';
import { profilesIn, summarizeProfile } from './profile';
import {
  cpuTable,
  httpRows,
  httpTable,
  markdown,
  profileTable,
  redisTable,
  type Results,
  type Row,
  serviceLogSummary,
  targetsTable,
  workersNote,
  workersTable,
} from './report';
import { evaluateTargets } from './targets';
import {
  type BenchContext,
  type Measurement,
  runGeneratorCheck,
  runHistory,
  runHot,
  runRead,
  runSellout,
  runSpread,
  seedSpread,
} from './scenarios';
import { nextXid } from './seed';
import { type ServiceProcess, startService } from './service_process';
import { runWorkers } from './workers';
import { locateYardstick, Yardstick, type YardstickScript } from './yardstick';

const started = Date.now();

function log(msg: string): void {
  const seconds = ((Date.now() - started) / 1000).toFixed(0).padStart(4);
  process.stderr.write(`[bench ${seconds}s] ${msg}\n`);
}

async function main(argv: string[]): Promise<number> {
  let options: Options;
  try {
    options = parseArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${error.message ? `${error.message}\n\n` : ''}${USAGE}\n`);
    return error.message ? 2 : 0;
  }
  const repoRoot = findRepoRoot(__dirname);
  const { DATABASE_URL: databaseUrl, REDIS_URL: redisUrl } = process.env;
  if (!databaseUrl || !redisUrl) {
    throw new Error(
      'DATABASE_URL and REDIS_URL are not set: run the benchmark with make bench (which starts ' +
        'PostgreSQL and Redis), or set both to servers of your own.',
    );
  }
  if (!existsSync(path.join(repoRoot, 'dist/src/allocation/entrypoints/main.js'))) {
    throw new Error('the service is not built: run make bench (or npm run build first)');
  }

  // The workers scenario starts services of its own and needs no yardstick.
  const onMain = [...options.only].some((s) => s !== 'workers');
  let yardstick: Yardstick | undefined;
  if (options.yardstick && onMain) {
    const dir = locateYardstick(repoRoot, options.yardstickDir);
    log(`loading the yardstick (${path.relative(repoRoot, dir)}) into database yardstick`);
    yardstick = await Yardstick.prepare(dir, databaseUrl, log);
  }

  const pool = new Pool({ connectionString: databaseUrl, max: 4 });
  const profileDir = path.join(repoRoot, '.data', 'bench-profile', `${Date.now()}`);
  if (options.profile) await fs.mkdir(profileDir, { recursive: true });
  // The service running now, if any: stopped on a signal.
  let current: ServiceProcess | undefined;
  const stopOnSignal = () => {
    void (current?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);

  const runId = `bench${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  let results: Results;
  try {
    const machine = await describeMachine(
      pool,
      redisUrl,
      yardstick?.version ?? 'pgbench not run',
      repoRoot,
    );
    results = {
      machine,
      warmupSeconds: options.warmupSeconds,
      durationSeconds: options.durationSeconds,
      client: options.client,
      spread: [],
      hot: [],
      serviceLog: [],
    };
    let spreadSkus: string[] | undefined;
    if (onMain) {
      log('starting the service: node dist/src/allocation/entrypoints/main.js all');
      const service = await startService({
        repoRoot,
        databaseUrl,
        redisUrl,
        nodeArgs: options.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [],
      });
      current = service;
      log(`service pid ${service.pid} listening on ${service.host}:${service.port}`);
      try {
        const ctx: BenchContext = {
          origin: { host: service.host, port: service.port },
          pool,
          servicePid: service.pid,
          runId,
          warmupMs: options.warmupSeconds * 1000,
          durationMs: options.durationSeconds * 1000,
          client: options.client,
          cpu: await cpuMeter(pool, service.pid),
          log,
        };
        spreadSkus = await runScenarios(options, ctx, redisUrl, yardstick, results);
      } finally {
        log('stopping the service');
        await service.stop();
        current = undefined;
      }
      results.serviceLog = service.warnings();
    }
    // After the main service stopped: its relay and idle CPU must not weigh on these runs.
    if (options.only.has('workers')) {
      results.workers = await runWorkers({
        repoRoot,
        databaseUrl,
        redisUrl,
        pool,
        runId,
        client: options.client,
        skus: spreadSkus ?? (await seedSpread({ pool, runId })),
        apiWorkers: options.apiWorkers,
        concurrencies: options.workers,
        warmupSeconds: options.workersWarmupSeconds,
        durationSeconds: options.workersDurationSeconds,
        log,
        onService: (service) => (current = service),
      });
      for (const run of results.workers.runs) {
        results.serviceLog.push(
          ...run.warnings.map((line) => `API_WORKERS=${run.apiWorkers}: ${line}`),
        );
      }
    }
  } finally {
    await pool.end();
  }
  if (options.profile) results.profile = await readProfile(profileDir, repoRoot, results);
  return finish(options, results, repoRoot);
}

async function runScenarios(
  options: Options,
  ctx: BenchContext,
  redisUrl: string,
  yardstick: Yardstick | undefined,
  results: Results,
): Promise<string[] | undefined> {
  const only = options.only;
  // Each of ours is followed at once by the yardstick at the same concurrency, so both meet
  // about the same background load on this shared machine.
  const cache = new Map<string, PgbenchResult>();
  const beside = async (ours: Measurement, script: YardstickScript): Promise<Row> => {
    if (!yardstick) return { ours };
    const key = `${script}:${ours.concurrency}`;
    let result = cache.get(key);
    if (!result) {
      log(`yardstick ${script} c=${ours.concurrency}`);
      result = await yardstick.run(
        script,
        ours.concurrency,
        options.warmupSeconds,
        options.durationSeconds,
        { cpu: ctx.cpu, nextXid: () => nextXid(ctx.pool) },
      );
      log(
        `yardstick ${script} c=${ours.concurrency}: ${result.tps.toFixed(0)} tps, ` +
          `p50 ${result.latency?.p50.toFixed(2)} ms, p99 ${result.latency?.p99.toFixed(2)} ms`,
      );
      cache.set(key, result);
    }
    return { ours, yardstick: { script, result } };
  };

  if (only.has('generator')) results.generator = await runGeneratorCheck(ctx, 16);
  let skus: string[] | undefined;
  if (only.has('spread')) {
    skus = await seedSpread(ctx);
    for (const c of options.spread) {
      results.spread.push(await beside(await runSpread(ctx, c, skus), 'allocate'));
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
    results.read = await beside(await runRead(ctx, options.readConcurrency), 'read_view');
  }
  if (only.has('consumer')) {
    results.consumer = await runConsumerThroughput(ctx, redisUrl);
    const latency = await runAllocatedLatency(ctx, redisUrl, options.latencyConcurrency);
    results.allocated = { ...latency, row: await beside(latency.measurement, 'allocate') };
  }
  return skus;
}

/** Counts CPU of the service's processes and, when it runs on this machine, PostgreSQL's. */
async function cpuMeter(pool: Pool, servicePid: number): Promise<CpuMeter> {
  const { rows } = await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  const postmaster = postmasterOf(rows[0].pid);
  if (!postmaster) log('PostgreSQL does not run on this machine: its CPU is not counted apart');
  return new CpuMeter(servicePid, postmaster);
}

async function readProfile(
  dir: string,
  repoRoot: string,
  results: Results,
): Promise<Results['profile']> {
  const files = await profilesIn(dir);
  if (files.length === 0) {
    log(`no .cpuprofile was written to ${dir}`);
    return undefined;
  }
  const windows = measuredRows(results).flatMap((row) => row.ours.load.windows);
  return summarizeProfile(files, repoRoot, windows);
}

/** The HTTP measurements whose windows a profile covers. */
function measuredRows(results: Results): Row[] {
  return [
    ...results.spread,
    ...results.hot,
    ...(results.history ? [results.history.none, results.history.after] : []),
    ...(results.read ? [results.read] : []),
    ...(results.allocated ? [results.allocated.row] : []),
  ];
}

async function finish(options: Options, results: Results, repoRoot: string): Promise<number> {
  const targets = evaluateTargets(results);
  const out: string[] = [''];
  if (httpRows(results).length > 0) out.push(httpTable(results), '');
  const redis = redisTable(results);
  if (redis) out.push(redis, '');
  const workers = workersTable(results);
  if (workers) out.push(`Scale-out: API workers (${workersNote(results)})`, '', workers, '');
  if (httpRows(results).length > 0) out.push(cpuTable(results), '');
  out.push(targetsTable(targets), '');
  const serviceLog = serviceLogSummary(results.serviceLog);
  if (serviceLog.length > 0) {
    out.push('Service log (warn and above):', ...serviceLog.slice(0, 10).map((l) => `  ${l}`), '');
  }
  if (results.profile) {
    const p = results.profile;
    // V8 samples wall time: a sample that is not idle may be a process waiting for a core.
    const serviceCpuMs = measuredRows(results).reduce(
      (sum, r) => sum + (r.ours.cpu?.serviceMs ?? 0),
      0,
    );
    out.push(
      `CPU profile of the service (${p.files.length} processes, in ` +
        `${path.relative(repoRoot, path.dirname(p.files[0]))}): ${(p.totalMs / 1000).toFixed(1)} s ` +
        `of samples in the measured windows, ${p.idlePercent.toFixed(0)}% idle; /proc counts ` +
        `${((100 * serviceCpuMs) / p.totalMs).toFixed(0)}% on a CPU (V8 samples wall time, so ` +
        'the difference is time spent runnable but waiting for a core). Top self time:',
      '',
      profileTable(p),
      '',
    );
  }
  process.stdout.write(out.join('\n'));

  const full = options.only.size === SCENARIOS.length && !options.profile;
  if (full || options.write) {
    const chart = 'docs/bench.svg';
    await fs.mkdir(path.join(repoRoot, 'docs'), { recursive: true });
    await fs.writeFile(path.join(repoRoot, chart), chartSvg(results));
    await fs.writeFile(path.join(repoRoot, 'BENCHMARKS.md'), markdown(results, targets, chart));
    log(`wrote BENCHMARKS.md and ${chart}`);
  } else {
    log('partial run: BENCHMARKS.md and the chart left as they were (--write to write them)');
  }
  const missed = targets.filter((t) => t.met === false);
  const met = targets.filter((t) => t.met === true).length;
  log(
    `targets: ${met} met, ${missed.length} not met, ` +
      `${targets.length - met - missed.length} not measured`,
  );
  return options.check && missed.length > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(error instanceof Error ? error.message : String(error));
    process.exit(1);
  },
);
