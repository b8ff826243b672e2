// The minimal Koa servers of bench/yardstick, each started as a process of its own on the same
// PostgreSQL (the yardstick's database) and driven with the same load as the scenario of ours
// it is compared with, the two taking turns.
import path from 'node:path';
import { CpuMeter } from './cpu';
import type { BenchContext, Measurement } from './scenarios';
import { startProcess } from './service_process';

export const MINIMAL_SERVERS = {
  koa_hello: { label: 'Koa hello world', ours: 'GET /healthz', target: 0.8 },
  koa_select1: { label: 'Koa + pg SELECT 1', ours: 'GET /allocations/:orderid', target: 0.8 },
  koa_allocate: {
    label: 'Koa + pg allocation (BEGIN, 6 statements, COMMIT)',
    ours: 'POST /allocate',
    target: 1.2,
  },
} as const;
export type MinimalServer = keyof typeof MINIMAL_SERVERS;

/**
 * Ours and the minimal server take turns under the same load, ROUNDS times each, the order
 * alternating (ours first, then theirs first, ...). One run each, back to back, was not enough:
 * on this shared 2-core machine the minimal allocation server alone gave 1,235-1,456 req/s over
 * four runs of the same code, and our ratio to it 0.92-1.20 x (2026-11-27). The ratio reported
 * is the median of the rounds' ratios; every round's ratio is printed beside it.
 */
export const ROUNDS = 3;

/** Ours beside the minimal server doing the same work under the same load. */
export interface MinimalRow {
  server: MinimalServer;
  /** The round whose ratio is the median, ours and theirs. */
  ours: Measurement;
  theirs: Measurement;
  ratio: number;
  /** Each round's ratio, in order. */
  ratios: number[];
}

/** A round is half the scenario's measured time, after a shorter warm-up. */
function roundOf(ctx: BenchContext): BenchContext {
  return {
    ...ctx,
    warmupMs: Math.min(ctx.warmupMs, 2_000),
    durationMs: Math.max(1_000, ctx.durationMs / 2),
  };
}

export async function besideMinimal(
  ctx: BenchContext,
  server: MinimalServer,
  databaseUrl: string,
  postgresPid: number | undefined,
  loads: {
    ours: (ctx: BenchContext) => Promise<Measurement>;
    theirs: (ctx: BenchContext) => Promise<Measurement>;
  },
): Promise<MinimalRow> {
  const script = path.join(__dirname, 'yardstick', `${server}.js`);
  ctx.log(`yardstick ${server}: ${ROUNDS} rounds each, taking turns with ours`);
  const child = await startProcess({ script, env: { DATABASE_URL: databaseUrl } });
  try {
    const oursCtx = roundOf(ctx);
    const theirsCtx: BenchContext = {
      ...oursCtx,
      origin: { host: child.host, port: child.port },
      servicePid: child.pid,
      cpu: new CpuMeter(child.pid, postgresPid),
    };
    const rounds: { ours: Measurement; theirs: Measurement; ratio: number }[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      let ours: Measurement;
      let theirs: Measurement;
      if (i % 2 === 0) {
        ours = await loads.ours(oursCtx);
        theirs = await loads.theirs(theirsCtx);
      } else {
        theirs = await loads.theirs(theirsCtx);
        ours = await loads.ours(oursCtx);
      }
      rounds.push({ ours, theirs, ratio: ours.load.throughput / theirs.load.throughput });
    }
    const median = [...rounds].sort((a, b) => a.ratio - b.ratio)[Math.floor(ROUNDS / 2)];
    return { server, ...median, ratios: rounds.map((round) => round.ratio) };
  } finally {
    await child.stop();
  }
}
