// The minimal Koa servers of bench/yardstick, each started as a process of its own on the same
// PostgreSQL (the yardstick's database) and driven with the same load as the scenario of ours
// it is compared with, right after it.
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

/** Ours beside the minimal server doing the same work under the same load. */
export interface MinimalRow {
  server: MinimalServer;
  ours: Measurement;
  theirs: Measurement;
  ratio: number;
}

export async function besideMinimal(
  ctx: BenchContext,
  server: MinimalServer,
  ours: Measurement,
  databaseUrl: string,
  postgresPid: number | undefined,
  load: (ctx: BenchContext) => Promise<Measurement>,
): Promise<MinimalRow> {
  const script = path.join(__dirname, 'yardstick', `${server}.js`);
  ctx.log(`yardstick ${server} c=${ours.concurrency}`);
  const child = await startProcess({ script, env: { DATABASE_URL: databaseUrl } });
  try {
    const theirs = await load({
      ...ctx,
      origin: { host: child.host, port: child.port },
      servicePid: child.pid,
      cpu: new CpuMeter(child.pid, postgresPid),
    });
    return { server, ours, theirs, ratio: ours.load.throughput / theirs.load.throughput };
  } finally {
    await child.stop();
  }
}
