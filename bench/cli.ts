// Command-line flags of the benchmark.
import type { ClientKind } from './http_client';

export const SCENARIOS = [
  'generator',
  'spread',
  'hot',
  'history',
  'read',
  'consumer',
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
  /** The workers scenario: concurrencies, API_WORKERS values, and its own timing. */
  workers: number[];
  apiWorkers: number[];
  workersWarmupSeconds: number;
  workersDurationSeconds: number;
  client: ClientKind;
  yardstick: boolean;
  yardstickDir?: string;
  profile: boolean;
  /** Write BENCHMARKS.md and the chart (default: only after a full run). */
  write: boolean;
  /** Exit 1 when a target is not met. */
  check: boolean;
}

export const USAGE = `usage: make bench [ARGS="..."]   or   npm run bench -- [flags]

Starts the service (main.js all) on the PostgreSQL and Redis that with_services provides, drives
it over HTTP, runs the pgbench yardstick of bench/yardstick/ on the same server, prints the
results and, after a full run, writes BENCHMARKS.md and docs/bench.svg.

  --warmup S            seconds of unmeasured load before each measurement (default 3)
  --duration S          seconds measured per scenario and concurrency (default 10)
  --only LIST           some of ${SCENARIOS.join(',')} (default: all)
  --spread LIST         concurrencies of the spread scenario (default 1,4,16,32)
  --hot LIST            concurrencies of the hot scenario (default 8,32)
  --history N           earlier allocations in the history scenario (default 100000)
  --workers LIST        concurrencies of the workers scenario (default 16,32): spread on a
                        service started with each API_WORKERS value in turn
  --api-workers LIST    the API_WORKERS values it compares (default 1,2; ratios are to the first)
  --workers-warmup S    its warm-up (default 3, or --warmup when given)
  --workers-duration S  its measured seconds (default 6, or --duration when given)
  --client raw|node     the load generator's HTTP client (default raw)
  --no-yardstick        skip pgbench (no ratios)
  --yardstick-dir DIR   where the yardstick is (default bench/yardstick)
  --profile             CPU-profile the service (node --cpu-prof) and print its top functions;
                        alone it runs spread at c16 only
  --write               write BENCHMARKS.md and docs/bench.svg after a partial run too
  --check               exit 1 when a target is not met (targets are reported either way)
  --help`;

export function parseArgs(argv: string[]): Options {
  const options: Options = {
    warmupSeconds: 3,
    durationSeconds: 10,
    only: new Set(SCENARIOS),
    spread: [1, 4, 16, 32],
    hot: [8, 32],
    historyConcurrency: 4,
    historyEarlier: 100_000,
    readConcurrency: 16,
    latencyConcurrency: 4,
    workers: [16, 32],
    apiWorkers: [1, 2],
    workersWarmupSeconds: 3,
    workersDurationSeconds: 6,
    client: 'raw',
    yardstick: true,
    profile: false,
    write: false,
    check: false,
  };
  let onlyGiven = false;
  let spreadGiven = false;
  let workersWarmupGiven = false;
  let workersDurationGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = (): string => {
      const next = argv[++i];
      if (next === undefined) throw new UsageError(`${flag} needs a value`);
      return next;
    };
    switch (flag) {
      case '--warmup':
        options.warmupSeconds = number(flag, value(), 0);
        if (!workersWarmupGiven) options.workersWarmupSeconds = options.warmupSeconds;
        break;
      case '--duration':
        options.durationSeconds = number(flag, value(), 1);
        if (!workersDurationGiven) options.workersDurationSeconds = options.durationSeconds;
        break;
      case '--only':
        options.only = scenarios(value());
        onlyGiven = true;
        break;
      case '--spread':
        options.spread = list(flag, value());
        spreadGiven = true;
        break;
      case '--hot':
        options.hot = list(flag, value());
        break;
      case '--history':
        options.historyEarlier = number(flag, value(), 0);
        break;
      case '--workers':
        options.workers = list(flag, value());
        break;
      case '--api-workers':
        options.apiWorkers = list(flag, value());
        break;
      case '--workers-warmup':
        options.workersWarmupSeconds = number(flag, value(), 0);
        workersWarmupGiven = true;
        break;
      case '--workers-duration':
        options.workersDurationSeconds = number(flag, value(), 1);
        workersDurationGiven = true;
        break;
      case '--client': {
        const kind = value();
        if (kind !== 'raw' && kind !== 'node') throw new UsageError('--client is raw or node');
        options.client = kind;
        break;
      }
      case '--no-yardstick':
        options.yardstick = false;
        break;
      case '--yardstick-dir':
        options.yardstickDir = value();
        break;
      case '--profile':
        options.profile = true;
        break;
      case '--write':
        options.write = true;
        break;
      case '--check':
        options.check = true;
        break;
      case '--help':
      case '-h':
        throw new UsageError('');
      default:
        throw new UsageError(`unknown flag ${flag}`);
    }
  }
  if (options.profile) {
    if (!onlyGiven) options.only = new Set(['spread']);
    if (!spreadGiven) options.spread = [16];
  }
  return options;
}

export class UsageError extends Error {
  name = 'UsageError';
}

function number(flag: string, text: string, min: number): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < min) throw new UsageError(`${flag} must be >= ${min}`);
  return value;
}

function list(flag: string, text: string): number[] {
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
