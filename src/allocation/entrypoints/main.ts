// First: tracing must patch http, koa, pg and ioredis before anything loads them.
import { stopTracing } from '../adapters/opentelemetry/tracing_sdk';
import { setTimeout as sleep } from 'node:timers/promises';
import 'reflect-metadata';
import cluster from 'node:cluster';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { bootstrap, type Service } from '../bootstrap';
import * as config from '../config';
import { createKnex, migrate } from '../adapters/postgres/db';
import { Retention } from '../adapters/postgres/retention';
import { isLoopback } from './http/auth';
import { startupSummary } from './startup_summary';
import { forkApiWorkers } from './api_workers';
import type { Logger } from '../service_layer/ports';

type Role = 'all' | 'api' | 'consumer';

// Retention is measured in hours and days: a pass a minute keeps each batch small.
const PRUNE_EVERY_MS = 60_000;

/**
 * Starts the API, the consumer, or both, plus the outbox relay; stops cleanly on a signal.
 * With API_WORKERS > 1 the API runs in that many cluster workers sharing the port, one per
 * core, while this process keeps the consumer and a relay.
 */
async function main(role: Role): Promise<void> {
  const workers = role === 'consumer' ? 1 : config.apiWorkers();
  const service = bootstrap();
  const log = service.logger;
  const retention = new Retention(service.db(), config.retention(), log);
  if (cluster.isPrimary) await prepareDatabase(log);

  const stops: (() => Promise<void>)[] = [];
  let started: Promise<void> = Promise.resolve();
  let stopping = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      log.error({}, 'shutdown timed out');
      process.exit(1);
    }, config.shutdownTimeoutMs());
    timer.unref();
    await started.catch(() => undefined); // a signal during start-up stops what it started
    for (const stop of stops) await stop();
    await retention.stop();
    // Flush what we can in half the time left; a backlog (a 20,000-line change, say) waits for
    // the next start rather than hold the stop past its timeout.
    const flushed = service.relay.deliverPending().catch(() => 0);
    await Promise.race([flushed, sleep(config.shutdownTimeoutMs() / 2, undefined, { ref: false })]);
    await service.close();
    await stopTracing().catch(() => undefined); // export the last spans
    log.info({}, 'stopped');
    process.exit(0);
  };
  // Before anything starts: the API may answer (and be told to stop) while the rest starts.
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  // A worker whose primary died (even by SIGKILL) stops too, rather than linger orphaned.
  if (cluster.isWorker) process.on('disconnect', () => void shutdown('disconnect'));

  started = (async () => {
    if (role !== 'consumer') {
      stops.push(
        workers > 1 && cluster.isPrimary ? forkApiWorkers(workers, log) : await startApi(service),
      );
    }
    if (role === 'all' || role === 'consumer') stops.push(await startConsumer(service));
    // Every process runs a relay: a lease (relay_leases) lets one deliver at a time.
    service.relay.start(config.outboxPollMs());
    service.relay.kick();
    // Pruning likewise takes a lock per batch; API workers leave it to their primary.
    if (cluster.isPrimary) retention.start(PRUNE_EVERY_MS);
    if (cluster.isPrimary) log.info({}, startupSummary(role, workers));
  })();
  await started;
}

async function prepareDatabase(log: Logger): Promise<void> {
  // A migration may rewrite a big table: no statement timeout (lock waits stay bounded), on a
  // connection of its own, as `make migrate` does.
  const db = createKnex(config.databaseUrl(), 1, { ...config.dbLimits(), statementTimeoutMs: 0 });
  try {
    // Replicas starting together on a new database race to create knex's own migration tables:
    // the loser tries again once the winner is done.
    for (let attempt = 1; ; attempt++) {
      try {
        await migrate(db);
        return;
      } catch (error) {
        if (attempt >= 5) throw error;
        log.warn({ err: error, attempt }, 'migration failed; retrying');
        await sleep(1_000 * attempt);
      }
    }
  } finally {
    await db.destroy();
  }
}

async function startApi(service: Service): Promise<() => Promise<void>> {
  const listener = service.httpListener();
  const [host, port] = [config.apiHost(), config.apiPort()];
  if (!isLoopback(host) && (!config.apiToken() || !config.adminToken())) {
    service.logger.warn(
      { host },
      `API_HOST ${host} is reachable from other machines, but API_TOKEN or ADMIN_TOKEN is unset: those routes are open to anyone who can reach the port`,
    );
  }
  const server: Server = await new Promise((resolve, reject) => {
    // A deep accept queue: at 2,000 clients arriving at once, Node's default of 511 overflowed
    // (about 24,000 dropped SYNs in make bench), and a dropped client waits 1-3 s to retry
    // before admission control ever sees it. The kernel caps this at net.core.somaxconn.
    // JSON bodies get a 408 at BODY_TIMEOUT_MS (parseJsonBody); this bounds the console's forms.
    const requestTimeout = config.bodyTimeoutMs() + 1_000;
    const s = createServer({ requestTimeout, connectionsCheckingInterval: 1_000 }, listener)
      .listen({ port, host, backlog: 4_096 }, () => resolve(s))
      .on('error', reject);
  });
  service.logger.info(
    { url: `http://${host}:${port}`, docs: `http://${host}:${port}/docs` },
    `API listening on http://${host}:${port} (docs at http://${host}:${port}/docs)`,
  );
  // While stopping, every response closes its connection: a keep-alive client must not be
  // able to keep feeding requests to a process that is shutting down.
  let stopping = false;
  const pending = new Set<ServerResponse>();
  server.on('request', (_req, res: ServerResponse) => {
    if (stopping) res.setHeader('Connection', 'close');
    pending.add(res);
    res.once('close', () => pending.delete(res));
  });
  return async () => {
    stopping = true;
    for (const res of pending) if (!res.headersSent) res.setHeader('Connection', 'close');
    // Stop accepting, let in-flight requests finish, drop the idle keep-alive sockets.
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    await closed;
  };
}

async function startConsumer(service: Service): Promise<() => Promise<void>> {
  const consumer = service.consumer();
  await consumer.start();
  return () => consumer.stop();
}

const role = (process.argv[2] ?? 'all') as Role;
if (!['all', 'api', 'consumer'].includes(role)) {
  console.error(`usage: main.js [all|api|consumer] (got ${role})`);
  process.exit(2);
}
main(role).catch((error: unknown) => {
  // A bad setting is the operator's to fix: one sentence, no stack trace.
  console.error(error instanceof config.ConfigError ? error.message : error);
  process.exit(1);
});
