// The real adapters that bootstrap.ts composes, one factory per token in its container; each
// factory that opens something registers its closer. An override (registered after these)
// replaces an adapter, which then is never built.
import type { Knex } from 'knex';
import type pg from 'pg';
import { instanceCachingFactory, type DependencyContainer } from 'tsyringe';
import * as config from './config';
import { createLogger } from './logging';
import { createKnex, createPool } from './adapters/postgres/db';
import { DeadLetters } from './adapters/postgres/dead_letter_store';
import { KnexOutbox } from './adapters/postgres/knex_outbox';
import { KnexDeliveryControls } from './adapters/postgres/delivery_controls';
import { PrometheusMetrics } from './adapters/prometheus/metrics';
import { EmailNotifications, LogNotifications } from './adapters/smtp/notifications';
import { PacedNotifications } from './adapters/smtp/paced_notifications';
import { connectRedis, type RedisClient } from './adapters/redis/redis_connections';
import { redisPublisher } from './adapters/redis/redis_eventpublisher';
import { groupCommit } from './adapters/postgres/group_commit';
import { groupLoad } from './adapters/postgres/group_load';
import { preparedQuery } from './adapters/postgres/prepared';
import {
  PostgresUnitOfWork,
  type PostgresUnitOfWorkOptions,
} from './adapters/postgres/postgres_unit_of_work';
import { HotSkus, SkuLocks } from './adapters/postgres/sku_locks';
import { EVENT_HANDLERS } from './service_layer/handlers';
import { causeOfChain } from './service_layer/history';
import type { Chain } from './service_layer/messagebus';
import type { Logger, Outbox } from './service_layer/ports';
import type { UnitOfWork } from './service_layer/unit_of_work';

export const TOKENS = {
  Logger: Symbol('Logger'),
  Db: Symbol('Db'),
  Pool: Symbol('Pool'),
  ReadPool: Symbol('ReadPool'),
  Redis: Symbol('Redis'),
  Notifications: Symbol('Notifications'),
  Publish: Symbol('Publish'),
  Outbox: Symbol('Outbox'),
  Metrics: Symbol('Metrics'),
  DeadLetters: Symbol('DeadLetters'),
  DeliveryControls: Symbol('DeliveryControls'),
} as const;

const OPERATIONS_POOL_SIZE = 4;

export type Closers = (() => Promise<unknown> | void)[];

export function registerAdapters(c: DependencyContainer, closers: Closers): void {
  const single = <T>(token: symbol, make: (c: DependencyContainer) => T): void => {
    c.register(token, { useFactory: instanceCachingFactory(make) });
  };
  single(TOKENS.Logger, () => createLogger('allocation'));
  // knex, for the relay and operations (console, dead letters, readiness, retention): a few
  // short statements at a time, so a few connections beside the hot path's pool.
  single(TOKENS.Db, () => {
    const db = createKnex(
      config.databaseUrl(),
      Math.min(OPERATIONS_POOL_SIZE, config.dbPoolSize()),
    );
    closers.push(() => db.destroy());
    return db;
  });
  // The hot path's connections (units of work): pg's own pool, for named prepared statements.
  single(TOKENS.Pool, () => {
    const pool = createPool(config.databaseUrl(), config.dbPoolSize());
    closers.push(() => pool.end());
    return pool;
  });
  // The read routes' database: a streaming replica when DATABASE_READ_URL names one.
  single(TOKENS.ReadPool, (r) => {
    const url = config.databaseReadUrl();
    if (!url) return r.resolve<pg.Pool>(TOKENS.Pool);
    const pool = createPool(url, config.dbPoolSize());
    closers.push(() => pool.end());
    return pool;
  });
  single(TOKENS.Redis, () => {
    // While Redis is down a publish fails at once and the outbox keeps it; a Redis that accepts
    // the connection but never answers fails the command, not hangs.
    const redis = connectRedis(config.redisTarget(), 'publisher', {
      commandTimeoutMs: config.redisCommandTimeoutMs(),
    });
    redis.on('error', () => undefined); // reconnects by itself; failures surface per command
    closers.push(() => redis.quit().catch(() => redis.disconnect()));
    return redis;
  });
  single(TOKENS.Notifications, (r) => {
    const smtp = config.smtp();
    const logger = r.resolve<Logger>(TOKENS.Logger);
    const perSecond = config.emailMaxPerSecond();
    if (!smtp) {
      logger.info({}, 'no SMTP_HOST set: out-of-stock notifications are written to the log');
      return new PacedNotifications(new LogNotifications(logger), perSecond);
    }
    const email = new EmailNotifications(smtp);
    closers.push(() => email.close());
    return new PacedNotifications(email, perSecond);
  });
  single(TOKENS.Publish, (r) =>
    redisPublisher(r.resolve<RedisClient>(TOKENS.Redis), config.outboundStream()),
  );
  single(TOKENS.Outbox, (r) => {
    const outbox = new KnexOutbox(r.resolve<Knex>(TOKENS.Db), config.outboxLeaseMs(), (h, s) =>
      r.resolve<PrometheusMetrics>(TOKENS.Metrics).publishDelay(h, s),
    );
    closers.push(() => outbox.close());
    return outbox;
  });
  single(TOKENS.Metrics, (r) => {
    const metrics = new PrometheusMetrics(() => r.resolve<Outbox>(TOKENS.Outbox).backlog());
    metrics.watchDeadLetters(() => r.resolve<DeadLetters>(TOKENS.DeadLetters).openBySource());
    return metrics;
  });
  single(TOKENS.DeadLetters, (r) => new DeadLetters(r.resolve<Knex>(TOKENS.Db)));
  single(TOKENS.DeliveryControls, (r) => new KnexDeliveryControls(r.resolve<Knex>(TOKENS.Db)));
}

/** Units of work on PostgreSQL, sharing the process's sku queue, hot skus and group commit. */
export function postgresUnitsOfWork(c: DependencyContainer): (chain: Chain) => UnitOfWork {
  let options: PostgresUnitOfWorkOptions | undefined;
  return (chain) => {
    const pool = c.resolve<pg.Pool>(TOKENS.Pool);
    options ??= {
      eventHandlers: EVENT_HANDLERS,
      skuLocks: new SkuLocks(config.skuQueueTimeoutMs()),
      hotSkus: new HotSkus(),
      groupCommit: groupCommit(pool),
      groupLoad: groupLoad(preparedQuery(pool)),
    };
    return new PostgresUnitOfWork(
      pool,
      options,
      chain.correlationId ?? null,
      causeOfChain(chain),
      chain.originOf,
    );
  };
}
