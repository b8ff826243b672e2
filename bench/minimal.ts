// The minimal Koa servers of bench/yardstick, each a process of its own on the same PostgreSQL
// (the yardstick's database), taking turns with ours under the same load.
import path from 'node:path';
import { type BenchContext, type Measurement, ROUNDS, takeTurns } from './measure';
import { CpuMeter } from './proc';
import { startProcess } from './processes';

export const MINIMAL_SERVERS = {
  koa_hello: { label: 'Koa hello world', ours: 'GET /healthz', target: 0.8 },
  koa_select1: { label: 'Koa + pg SELECT 1', ours: 'GET /allocations/:orderid', target: 1.2 },
  koa_allocate: {
    label: 'Koa + pg allocation (BEGIN, 6 statements, COMMIT)',
    ours: 'POST /allocate',
    target: 1.2,
  },
} as const;
export type MinimalServer = keyof typeof MINIMAL_SERVERS;

/** Ours beside a minimal server, taking turns under the same load (the median round). */
export type MinimalRow = {
  server: MinimalServer;
  ours: Measurement;
  theirs: Measurement;
  ratio: number;
  ratios: number[];
};

type Load = (ctx: BenchContext) => Promise<Measurement>;

/** A round is half a scenario's measured time. */
export async function besideMinimal(
  ctx: BenchContext,
  server: MinimalServer,
  databaseUrl: string,
  loads: { ours: Load; theirs: Load },
): Promise<MinimalRow> {
  const script = path.join(__dirname, 'yardstick', `${server}.js`);
  ctx.log(`yardstick ${server}: ${ROUNDS} rounds each, taking turns with ours`);
  const child = await startProcess({ script, env: { DATABASE_URL: databaseUrl } });
  try {
    const warmupMs = Math.min(ctx.warmupMs, 2_000);
    const ours = { ...ctx, warmupMs, durationMs: Math.max(1_000, ctx.durationMs / 2) };
    const theirs: BenchContext = {
      ...ours,
      origin: { host: child.host, port: child.port },
      servicePid: child.pid,
      cpu: new CpuMeter(child.pid, ctx.cpu.postgresPid),
    };
    const throughput = (a: Measurement, b: Measurement) => a.load.throughput / b.load.throughput;
    const turns = await takeTurns(
      () => loads.ours(ours),
      () => loads.theirs(theirs),
      throughput,
    );
    return { server, ours: turns.a, theirs: turns.b, ratio: turns.ratio, ratios: turns.ratios };
  } finally {
    await child.stop();
  }
}
