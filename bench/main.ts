// `make bench`: the service under load beside its yardsticks (pgbench, minimal Koa servers), in
// one run, on one PostgreSQL; prints the targets and tables, and writes BENCHMARKS.md after a
// full run (with bench/notes.md: how it measures, and earlier numbers).
import { execFileSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { Client } from 'pg';
import { findRepoRoot } from '../tools/services';
import { OWN_SERVICE, type Options, parseArgs, SCENARIOS, USAGE, UsageError } from './cli';
import { Yardstick } from './pgbench';
import { postmasterOf } from './proc';
import { RUNNING } from './processes';
import { report } from './report';
import { runAll } from './run';
import { evaluateTargets } from './targets';

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
  const { DATABASE_URL: serverUrl, REDIS_URL: redisUrl } = process.env;
  if (!serverUrl || !redisUrl) {
    throw new Error(
      'DATABASE_URL and REDIS_URL are not set: run the benchmark with make bench (which starts ' +
        'PostgreSQL and Redis), or set both to servers of your own.',
    );
  }
  const serviceRoot = path.resolve(options.serviceRoot ?? repoRoot);
  if (!existsSync(path.join(serviceRoot, 'dist/src/allocation/entrypoints/main.js'))) {
    throw new Error(`the service is not built in ${serviceRoot}: run make build there`);
  }
  const stopAll = () => Promise.all([...RUNNING].map((service) => service.stop()));
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => void stopAll().finally(() => process.exit(130)));
  }
  const onMain = [...options.only].some((s) => !OWN_SERVICE.includes(s));
  const yardstick =
    options.yardstick && onMain ? await Yardstick.prepare(repoRoot, serverUrl) : undefined;
  const server = new Client({ connectionString: serverUrl });
  await server.connect();
  const { rows } = await server.query('SELECT pg_backend_pid() AS pid, version() AS version');
  const postgresPid = postmasterOf(rows[0].pid); // while the backend lives
  await server.end();
  if (!postgresPid) log('PostgreSQL does not run on this machine: its CPU counts as others');
  const machine = await describeMachine(rows[0].version, redisUrl, yardstick?.version, repoRoot);
  const results = await runAll(
    options,
    {
      serviceRoot,
      serverUrl,
      postgresPid,
      redisUrl,
      runId: `bench${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`,
      warmupMs: options.warmupSeconds * 1000,
      durationMs: options.durationSeconds * 1000,
      log,
      serviceLog: [],
    },
    yardstick,
  );
  const targets = evaluateTargets(results);
  const body = report(results, targets);
  process.stdout.write(`\n${body}\n`);
  if ((options.only.size === SCENARIOS.length && !options.profile) || options.write) {
    const notes = await fs.readFile(path.join(repoRoot, 'bench', 'notes.md'), 'utf8');
    const timing = `${options.warmupSeconds} s warm-up, ${options.durationSeconds} s measured`;
    const head = [...machine, `timing: ${timing} per scenario and concurrency`];
    const intro = '# Benchmarks\n\nWritten by `make bench` (`bench/`); do not edit by hand.';
    const file = `${intro}\n\n${head.map((line) => `- ${line}`).join('\n')}\n\n${body}\n${notes}`;
    await fs.writeFile(path.join(repoRoot, 'BENCHMARKS.md'), file);
    log('wrote BENCHMARKS.md');
  } else {
    log('partial run: BENCHMARKS.md left as it was (--write to write it)');
  }
  const count = (met?: boolean) => targets.filter((t) => t.requirement && t.met === met).length;
  log(`targets: ${count(true)} met, ${count(false)} not met, ${count(undefined)} not measured`);
  return options.check && count(false) > 0 ? 1 : 0;
}

/** What the numbers were measured on: the date, the machine, the versions, the commit. */
async function describeMachine(postgres: string, redisUrl: string, pgbench = '', root = '.') {
  const redis = new Redis(redisUrl);
  const info = await redis.info('server').finally(() => redis.disconnect());
  const model = os.cpus()[0]?.model;
  const memory = `${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB`;
  let commit = 'unknown';
  try {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: root }).toString().trim();
    commit = git('rev-parse', '--short', 'HEAD');
    if (git('status', '--porcelain', '--untracked-files=no')) commit += ' (modified)';
  } catch {
    // not a git checkout
  }
  return [
    `date: ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}; commit: ${commit}`,
    `machine: ${os.availableParallelism()} CPUs (${model}), ${memory}, ${os.release()}`,
    `versions: Node ${process.version}, ${postgres.split(' on ')[0]}, ` +
      `Redis ${/redis_version:(\S+)/.exec(info)?.[1]}, ${pgbench || 'pgbench not run'}`,
  ];
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(error instanceof Error ? error.message : String(error));
    process.exit(1);
  },
);
