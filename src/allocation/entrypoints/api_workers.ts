import cluster from 'node:cluster';
import * as config from '../config';
import type { Logger } from '../service_layer/ports';

/**
 * Forks API workers, replaces any that die, and on stop asks each to stop and waits. Settings
 * only the workers read are checked here first, so a bad one stops the start with its sentence
 * instead of killing every worker; workers that still keep dying at start end the process.
 */
export function forkApiWorkers(count: number, log: Logger): () => Promise<void> {
  config.maxInflight();
  config.bodyTimeoutMs();
  config.databaseReadUrl();
  let stopping = false;
  let fastDeaths = 0;
  const forkedAt = new Map<number, number>();
  const fork = () => forkedAt.set(cluster.fork().id, Date.now());
  cluster.setupPrimary({ args: ['api'] });
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    fastDeaths = Date.now() - (forkedAt.get(worker.id) ?? 0) < 10_000 ? fastDeaths + 1 : 0;
    if (fastDeaths >= 5) {
      log.error({ code, signal }, 'API workers keep dying at start; stopping');
      process.kill(process.pid, 'SIGTERM');
      return;
    }
    log.error({ pid: worker.process.pid, code, signal }, 'API worker died; starting another');
    fork();
  });
  for (let i = 0; i < count; i++) fork();
  log.info({ workers: count }, `API running in ${count} worker processes`);
  return async () => {
    stopping = true;
    const workers = Object.values(cluster.workers ?? {}).filter((w) => w !== undefined);
    await Promise.all(
      workers.map(
        (worker) =>
          new Promise<void>((resolve) => {
            if (worker.isDead()) return resolve();
            worker.once('exit', () => resolve());
            worker.process.kill('SIGTERM');
          }),
      ),
    );
  };
}
