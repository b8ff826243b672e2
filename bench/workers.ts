// Scale-out on one machine: the spread scenario on a service started with API_WORKERS=1, then on
// a fresh one with API_WORKERS=2 (node:cluster workers sharing the port), one after the other on
// the same PostgreSQL. Each service is the only one running while it is measured.
import type { Pool } from 'pg';
import { CpuMeter, postmasterOf } from './cpu';
import { type BenchContext, type Measurement, runSpread } from './scenarios';
import { type ServerProcess, startService } from './service_process';

export interface WorkersRun {
  apiWorkers: number;
  measurements: Measurement[];
  /** Lines the service logged at warn or above. */
  warnings: string[];
}

export interface WorkersResult {
  warmupSeconds: number;
  durationSeconds: number;
  /** In the order run; ratios are to the first. */
  runs: WorkersRun[];
}

export interface WorkersOptions {
  repoRoot: string;
  databaseUrl: string;
  redisUrl: string;
  pool: Pool;
  runId: string;
  /** The spread scenario's skus (seeded once per run). */
  skus: string[];
  apiWorkers: number[];
  concurrencies: number[];
  warmupSeconds: number;
  durationSeconds: number;
  log: (msg: string) => void;
  /** Called with each service as it starts and with undefined once it stopped (for signals). */
  onService?: (service: ServerProcess | undefined) => void;
}

export async function runWorkers(options: WorkersOptions): Promise<WorkersResult> {
  const { rows } = await options.pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  const postmaster = postmasterOf(rows[0].pid);
  const runs: WorkersRun[] = [];
  for (const apiWorkers of options.apiWorkers) {
    options.log(`workers: starting the service with API_WORKERS=${apiWorkers}`);
    const service = await startService({
      repoRoot: options.repoRoot,
      databaseUrl: options.databaseUrl,
      redisUrl: options.redisUrl,
      apiWorkers,
    });
    options.onService?.(service);
    options.log(`workers: service pid ${service.pid} listening on ${service.host}:${service.port}`);
    const ctx: BenchContext = {
      origin: { host: service.host, port: service.port },
      pool: options.pool,
      servicePid: service.pid,
      runId: options.runId,
      warmupMs: options.warmupSeconds * 1000,
      durationMs: options.durationSeconds * 1000,
      // A meter of its own: the load generator's share must leave this service out.
      cpu: new CpuMeter(service.pid, postmaster),
      log: options.log,
    };
    const measurements: Measurement[] = [];
    try {
      for (const c of options.concurrencies) {
        measurements.push(await runSpread(ctx, c, options.skus, `workers-${apiWorkers}`));
      }
    } finally {
      await service.stop();
      options.onService?.(undefined);
    }
    runs.push({ apiWorkers, measurements, warnings: service.output() });
  }
  return {
    warmupSeconds: options.warmupSeconds,
    durationSeconds: options.durationSeconds,
    runs,
  };
}
