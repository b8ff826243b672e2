// `make bench`: the service under load beside its yardsticks (pgbench, minimal Koa servers), in
// one run, on one PostgreSQL.
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { Pool } from 'pg';
import { findRepoRoot } from '../tools/services';
import { type Options, parseArgs, SCENARIOS, USAGE, UsageError } from './cli';
import { CpuMeter, postmasterOf } from './cpu';
import { describeMachine } from './machine';
import { SERVICE_DATABASE, freshServiceDatabase } from './fresh_database';
import { profilesIn, summarizeProfile } from './profile';
import { printed, markdown, measuredRows, type Results } from './report';
import { runScenarios } from './run';
import { seedSpread } from './scenarios';
import { type ServerProcess, startService } from './service_process';
import { evaluateTargets } from './targets';
import { runWorkers } from './workers';
import { locateYardstick, Yardstick } from './yardstick';

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
  const serviceRoot = path.resolve(options.serviceRoot ?? repoRoot);
  if (!existsSync(path.join(serviceRoot, 'dist/src/allocation/entrypoints/main.js'))) {
    throw new Error(`the service is not built in ${serviceRoot}: run make build there`);
  }

  // The workers scenario starts services of its own and needs no yardstick.
  const onMain = [...options.only].some((s) => s !== 'workers');
  let yardstick: Yardstick | undefined;
  if (options.yardstick && onMain) {
    log('loading the yardstick (bench/yardstick) into database yardstick');
    yardstick = await Yardstick.prepare(locateYardstick(repoRoot), databaseUrl, log);
  }

  log(`a new database ${SERVICE_DATABASE} for the service`);
  const serviceDatabaseUrl = await freshServiceDatabase(databaseUrl, serviceRoot);
  const pool = new Pool({ connectionString: serviceDatabaseUrl, max: 4 });
  const profileDir = path.join(repoRoot, '.data', 'bench-profile', `${Date.now()}`);
  if (options.profile) await fs.mkdir(profileDir, { recursive: true });
  // The service running now, if any: stopped on a signal.
  let current: ServerProcess | undefined;
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
      serviceRoot,
    );
    results = {
      machine,
      warmupSeconds: options.warmupSeconds,
      durationSeconds: options.durationSeconds,
      spread: [],
      hot: [],
      minimal: [],
      serviceLog: [],
    };
    const { rows } = await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const postgresPid = postmasterOf(rows[0].pid);
    if (!postgresPid) log('PostgreSQL does not run on this machine: its CPU is not counted apart');
    let spreadSkus: string[] | undefined;
    if (onMain) {
      log('starting the service: node dist/src/allocation/entrypoints/main.js all');
      const service = await startService({
        repoRoot: serviceRoot,
        databaseUrl: serviceDatabaseUrl,
        redisUrl,
        nodeArgs: options.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [],
      });
      current = service;
      log(`service pid ${service.pid} listening on ${service.host}:${service.port}`);
      try {
        spreadSkus = await runScenarios(
          options,
          {
            origin: { host: service.host, port: service.port },
            pool,
            servicePid: service.pid,
            runId,
            warmupMs: options.warmupSeconds * 1000,
            durationMs: options.durationSeconds * 1000,
            cpu: new CpuMeter(service.pid, postgresPid),
            log,
          },
          redisUrl,
          yardstick,
          postgresPid,
          results,
        );
      } finally {
        log('stopping the service');
        await service.stop();
        current = undefined;
      }
      results.serviceLog = service.output();
    }
    // After the main service stopped: its relay and idle CPU must not weigh on these runs.
    if (options.only.has('workers')) {
      results.workers = await runWorkers({
        repoRoot: serviceRoot,
        databaseUrl: serviceDatabaseUrl,
        redisUrl,
        pool,
        runId,
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
  if (options.profile) results.profile = await readProfile(profileDir, results);
  return finish(options, results, repoRoot);
}

async function readProfile(dir: string, results: Results): Promise<Results['profile']> {
  const files = await profilesIn(dir);
  if (files.length === 0) {
    log(`no .cpuprofile was written to ${dir}`);
    return undefined;
  }
  const windows = measuredRows(results).flatMap((row) => row.ours.load.windows);
  return summarizeProfile(files, findRepoRoot(__dirname), windows);
}

async function finish(options: Options, results: Results, repoRoot: string): Promise<number> {
  const targets = evaluateTargets(results);
  process.stdout.write(printed(results, targets, repoRoot));
  const full = options.only.size === SCENARIOS.length && !options.profile;
  if (full || options.write) {
    await fs.writeFile(path.join(repoRoot, 'BENCHMARKS.md'), markdown(results, targets));
    log('wrote BENCHMARKS.md');
  } else {
    log('partial run: BENCHMARKS.md left as it was (--write to write it)');
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
