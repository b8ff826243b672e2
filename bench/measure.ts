// What every HTTP scenario shares: the context of one running service, and one measured load
// with the CPU, memory and write transactions it cost.
import type { Pool } from 'pg';
import { type LoadOptions, type LoadResult, type Origin, type RequestSpec, runLoad } from './load';
import { CpuMeter, type CpuSnapshot, type CpuUsage, resetRssPeak, rssPeak } from './proc';
import { nextXid } from './seed';

/** What every service of a run shares. */
export interface Env {
  serviceRoot: string;
  /** The PostgreSQL server (without a database of ours) and its postmaster's pid. */
  serverUrl: string;
  postgresPid?: number;
  redisUrl: string;
  /** Unique to the run: every sku, batch and order id starts with it. */
  runId: string;
  warmupMs: number;
  durationMs: number;
  log: (msg: string) => void;
  /** Lines the services logged at warn and above, for the report. */
  serviceLog: string[];
}

/** One running service: where it listens, its database, its pid and a CPU meter of its own. */
export type BenchContext = Env & { origin: Origin; pool: Pool; servicePid: number; cpu: CpuMeter };

export interface Measurement {
  scenario: string;
  concurrency: number;
  load: LoadResult;
  /** Peak resident memory of the service (all its processes) in the measured window. */
  rss?: ReturnType<typeof rssPeak>;
  /** CPU used during the measured window; undefined if the window was cut short. */
  cpu?: CpuUsage;
  /** PostgreSQL write transactions (transaction ids used) during the measured window. */
  writeTransactions?: number;
}

type MeasureOptions = Omit<LoadOptions, 'origin' | 'warmupMs' | 'durationMs'> &
  Partial<Pick<LoadOptions, 'warmupMs' | 'durationMs'>>;

/** Runs one load, reading the service's memory, CPU and transaction ids around its window. */
export async function measure(
  ctx: BenchContext,
  scenario: string,
  options: MeasureOptions,
): Promise<Measurement> {
  let from: CpuSnapshot | undefined;
  let cpu: CpuUsage | undefined;
  const xids: Promise<number>[] = [];
  const load = await runLoad({
    warmupMs: ctx.warmupMs,
    durationMs: ctx.durationMs,
    ...options,
    origin: ctx.origin,
    onWindow: {
      start: () => {
        from = ctx.cpu.snapshot();
        resetRssPeak(ctx.servicePid);
        xids.push(nextXid(ctx.pool));
        options.onWindow?.start();
      },
      end: () => {
        cpu = from && CpuMeter.usage(from, ctx.cpu.snapshot());
        xids.push(nextXid(ctx.pool));
        options.onWindow?.end();
      },
    },
  });
  const [xidFrom, xidTo] = await Promise.all(xids);
  const rss = rssPeak(ctx.servicePid);
  ctx.log(
    `${scenario} c=${options.concurrency}: ${load.throughput.toFixed(0)} req/s, ` +
      `p50 ${load.latency.p50.toFixed(2)} ms, p99 ${load.latency.p99.toFixed(2)} ms, ` +
      `non-2xx ${load.non2xx}, no answer ${load.errors}, RSS ${rss.totalMb.toFixed(0)} MB`,
  );
  const writeTransactions = xidTo !== undefined ? xidTo - xidFrom : undefined;
  return { scenario, concurrency: options.concurrency, load, rss, cpu, writeTransactions };
}

export const ROUNDS = 3;

/**
 * Two loads taking turns ROUNDS times, the order alternating (a first, then b first, ...): one
 * run each, back to back, was not enough on this shared machine (the minimal allocation server
 * alone gave 1,235-1,456 req/s over four runs of the same code, 2026-11-27). The round whose
 * ratio is the median is kept, and every round's ratio listed.
 */
export async function takeTurns(
  a: () => Promise<Measurement>,
  b: () => Promise<Measurement>,
  ratioOf: (a: Measurement, b: Measurement) => number,
) {
  const rounds: { a: Measurement; b: Measurement; ratio: number }[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const [first, second] = i % 2 === 0 ? [await a(), await b()] : [await b(), await a()];
    const [ra, rb] = i % 2 === 0 ? [first, second] : [second, first];
    rounds.push({ a: ra, b: rb, ratio: ratioOf(ra, rb) });
  }
  const median = [...rounds].sort((p, q) => p.ratio - q.ratio)[Math.floor(ROUNDS / 2)];
  return { ...median, ratios: rounds.map((round) => round.ratio) };
}

let orderCounter = 0;

/**
 * POST /allocate of `qty` (default 1 to 10) units on a random sku of `skus`, with an order id
 * unique across the run (and, through runId, across runs).
 */
export function allocation(ctx: Pick<Env, 'runId'>, skus: string[], qty?: number): RequestSpec {
  const orderid = `${ctx.runId}-o${++orderCounter}`;
  const sku = skus[Math.floor(Math.random() * skus.length)];
  qty ??= 1 + Math.floor(Math.random() * 10);
  const body = `{"orderid":"${orderid}","sku":"${sku}","qty":${qty}}`;
  return { method: 'POST', path: '/allocate', body, tag: orderid };
}
