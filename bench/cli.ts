// Command-line flags of the benchmark, read with node:util parseArgs.
import { parseArgs as parse } from 'node:util';

/** In the order they run: on the main service, then on services of their own. */
const ON_MAIN = ['healthz', 'spread', 'hot', 'history', 'read', 'consumer', 'bigchange'] as const;
export const SCENARIOS = [...ON_MAIN, 'drain', 'overload', 'workers', 'hotfresh'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];
export const OWN_SERVICE: readonly ScenarioName[] = ['workers', 'hotfresh'];

export const USAGE = `usage: make bench [ARGS="..."]   or   npm run bench -- [flags]

Starts the service (main.js all) on the PostgreSQL and Redis that with_services provides, drives
it over HTTP with autocannon beside the yardsticks of bench/yardstick (pgbench, minimal Koa
servers) on the same server, prints the results and, after a full run, writes BENCHMARKS.md.

  --warmup S          seconds of unmeasured load before each measurement (default 3)
  --duration S        seconds measured per scenario and concurrency (default 10)
  --only LIST         some of ${SCENARIOS.join(',')}
  --spread LIST       concurrencies of the spread scenario (default 1,4,16,32)
  --hot LIST          concurrencies of the hot scenario (default 8,32)
  --history N         earlier allocations in the history scenario (default 100000)
  --big-change N      lines freed by one change_batch_quantity (default 20000)
  --drain N           line_allocated messages waiting in the drain scenario (default 100000)
  --overload N        connections of the overload scenario (default 2000)
  --workers LIST      concurrencies of the workers scenario (default 16,32)
  --api-workers LIST  the API_WORKERS values it compares (default 1,2; ratios to the first)
  --no-yardstick      skip pgbench and the minimal Koa servers (no ratios)
  --service DIR       measure the service built in another checkout (an older commit, say)
  --profile           write the service's CPU profiles (node --cpu-prof); alone: spread c16
  --write             write BENCHMARKS.md after a partial run too
  --check             exit 1 when a target is not met (targets are reported either way)
  --help`;

export class UsageError extends Error {
  name = 'UsageError';
}

const [text, flag] = [{ type: 'string' }, { type: 'boolean', default: false }] as const;
const FLAGS = {
  warmup: text,
  duration: text,
  only: text,
  spread: text,
  hot: text,
  history: text,
  'big-change': text,
  drain: text,
  overload: text,
  workers: text,
  'api-workers': text,
  service: text,
  yardstick: { type: 'boolean', default: true },
  profile: flag,
  write: flag,
  check: flag,
  help: { ...flag, short: 'h' },
} as const;

export function parseArgs(argv: string[]) {
  let values;
  try {
    ({ values } = parse({ args: argv, options: FLAGS, allowNegative: true, strict: true }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) throw new UsageError('');
  const { yardstick, profile, write, check, service: serviceRoot } = values;
  const options = {
    warmupSeconds: number('--warmup', values.warmup, 0, 3),
    durationSeconds: number('--duration', values.duration, 1, 10),
    only: values.only ? scenarios(values.only) : new Set(SCENARIOS),
    spread: list('--spread', values.spread, [1, 4, 16, 32]),
    hot: list('--hot', values.hot, [8, 32]),
    historyEarlier: number('--history', values.history, 0, 100_000),
    bigChangeLines: number('--big-change', values['big-change'], 1, 20_000),
    drainMessages: number('--drain', values.drain, 1, 100_000),
    overloadConnections: number('--overload', values.overload, 1, 2_000),
    workers: list('--workers', values.workers, [16, 32]),
    apiWorkers: list('--api-workers', values['api-workers'], [1, 2]),
    yardstick,
    serviceRoot,
    profile,
    write,
    check,
  };
  if (profile && !values.only) options.only = new Set<ScenarioName>(['spread']);
  if (profile && !values.spread) options.spread = [16];
  return options;
}
export type Options = ReturnType<typeof parseArgs>;

function number(flag: string, text: string | undefined, min: number, fallback: number): number {
  const value = text === undefined ? fallback : Number(text);
  if (!Number.isFinite(value) || value < min) throw new UsageError(`${flag} must be >= ${min}`);
  return value;
}

function list(flag: string, text: string | undefined, fallback: number[]): number[] {
  const values = text === undefined ? fallback : text.split(',').map(Number);
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
