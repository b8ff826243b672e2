// Command-line flags of the benchmark, read with node:util parseArgs.
import { parseArgs as parse } from 'node:util';

export const SCENARIOS = [
  'healthz',
  'spread',
  'hot',
  'history',
  'read',
  'consumer',
  'bigchange',
  'overload',
  'workers',
] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface Options {
  warmupSeconds: number;
  durationSeconds: number;
  only: Set<ScenarioName>;
  spread: number[];
  hot: number[];
  historyConcurrency: number;
  historyEarlier: number;
  readConcurrency: number;
  latencyConcurrency: number;
  /** Lines freed by the one change_batch_quantity of the bigchange scenario. */
  bigChangeLines: number;
  /** Connections of the overload scenario. */
  overloadConnections: number;
  /** The workers scenario: concurrencies, API_WORKERS values, and its own timing. */
  workers: number[];
  apiWorkers: number[];
  workersWarmupSeconds: number;
  workersDurationSeconds: number;
  /** pgbench and the minimal Koa servers beside ours. */
  yardstick: boolean;
  /** Another checkout whose built service to measure (default: this one). */
  serviceRoot?: string;
  profile: boolean;
  /** Write BENCHMARKS.md (default: only after a full run). */
  write: boolean;
  /** Exit 1 when a target is not met. */
  check: boolean;
}

export const USAGE = `usage: make bench [ARGS="..."]   or   npm run bench -- [flags]

Starts the service (main.js all) on the PostgreSQL and Redis that with_services provides, drives
it over HTTP with autocannon, runs the yardsticks of bench/yardstick (pgbench, and minimal Koa
servers) on the same server, prints the results and, after a full run, writes BENCHMARKS.md.

  --warmup S            seconds of unmeasured load before each measurement (default 3)
  --duration S          seconds measured per scenario and concurrency (default 10)
  --only LIST           some of ${SCENARIOS.join(',')} (default: all)
  --spread LIST         concurrencies of the spread scenario (default 1,4,16,32)
  --hot LIST            concurrencies of the hot scenario (default 8,32)
  --history N           earlier allocations in the history scenario (default 100000)
  --big-change N        lines freed by one change_batch_quantity (default 20000)
  --overload N          connections of the overload scenario (default 2000)
  --workers LIST        concurrencies of the workers scenario (default 16,32): spread on a
                        service started with each API_WORKERS value in turn
  --api-workers LIST    the API_WORKERS values it compares (default 1,2; ratios are to the first)
  --workers-warmup S    its warm-up (default 3, or --warmup when given)
  --workers-duration S  its measured seconds (default 6, or --duration when given)
  --no-yardstick        skip pgbench and the minimal Koa servers (no ratios)
  --service DIR         measure the service built in another checkout (DIR/dist/src/...), e.g.
                        an older commit, with this benchmark (every run gives the service a new
                        database, allocation_bench, migrated by that checkout)
  --profile             CPU-profile the service (node --cpu-prof) and print its top functions;
                        alone it runs spread at c16 only
  --write               write BENCHMARKS.md after a partial run too
  --check               exit 1 when a target is not met (targets are reported either way)
  --help`;

const FLAGS = {
  warmup: { type: 'string' },
  duration: { type: 'string' },
  only: { type: 'string' },
  spread: { type: 'string' },
  hot: { type: 'string' },
  history: { type: 'string' },
  'big-change': { type: 'string' },
  overload: { type: 'string' },
  workers: { type: 'string' },
  'api-workers': { type: 'string' },
  'workers-warmup': { type: 'string' },
  'workers-duration': { type: 'string' },
  yardstick: { type: 'boolean', default: true },
  service: { type: 'string' },
  profile: { type: 'boolean', default: false },
  write: { type: 'boolean', default: false },
  check: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export function parseArgs(argv: string[]): Options {
  let values;
  try {
    ({ values } = parse({ args: argv, options: FLAGS, allowNegative: true, strict: true }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) throw new UsageError('');
  const warmupSeconds = number('--warmup', values.warmup, 0, 3);
  const durationSeconds = number('--duration', values.duration, 1, 10);
  const options: Options = {
    warmupSeconds,
    durationSeconds,
    only: values.only ? scenarios(values.only) : new Set(SCENARIOS),
    spread: list('--spread', values.spread, [1, 4, 16, 32]),
    hot: list('--hot', values.hot, [8, 32]),
    historyConcurrency: 4,
    historyEarlier: number('--history', values.history, 0, 100_000),
    readConcurrency: 16,
    latencyConcurrency: 4,
    bigChangeLines: number('--big-change', values['big-change'], 1, 20_000),
    overloadConnections: number('--overload', values.overload, 1, 2_000),
    workers: list('--workers', values.workers, [16, 32]),
    apiWorkers: list('--api-workers', values['api-workers'], [1, 2]),
    workersWarmupSeconds: number(
      '--workers-warmup',
      values['workers-warmup'],
      0,
      values.warmup ? warmupSeconds : 3,
    ),
    workersDurationSeconds: number(
      '--workers-duration',
      values['workers-duration'],
      1,
      values.duration ? durationSeconds : 6,
    ),
    yardstick: values.yardstick,
    serviceRoot: values.service,
    profile: values.profile,
    write: values.write,
    check: values.check,
  };
  if (options.profile) {
    if (!values.only) options.only = new Set(['spread']);
    if (!values.spread) options.spread = [16];
  }
  return options;
}

export class UsageError extends Error {
  name = 'UsageError';
}

function number(flag: string, text: string | undefined, min: number, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < min) throw new UsageError(`${flag} must be >= ${min}`);
  return value;
}

function list(flag: string, text: string | undefined, fallback: number[]): number[] {
  if (text === undefined) return fallback;
  const values = text.split(',').map((part) => Number(part));
  if (values.some((v) => !Number.isInteger(v) || v < 1)) {
    throw new UsageError(`${flag} takes positive integers separated by commas`);
  }
  return values;
}

function scenarios(text: string): Set<ScenarioName> {
  const names = text.split(',').map((s) => s.trim());
  const unknown = names.filter((n) => !(SCENARIOS as readonly string[]).includes(n));
  if (unknown.length > 0) {
    throw new UsageError(`unknown scenario ${unknown.join(', ')} (known: ${SCENARIOS.join(', ')})`);
  }
  return new Set(names as ScenarioName[]);
}
