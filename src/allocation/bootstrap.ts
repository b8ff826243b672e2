// The composition root (SPEC section 8): the only file that knows the container and builds real
// adapters. Tests pass fakes as overrides and never see the container.
import 'reflect-metadata';
import { Redis } from 'ioredis';
import type { Knex } from 'knex';
import { container, instanceCachingFactory, type DependencyContainer } from 'tsyringe';
import * as config from './config';
import { withCorrelationId } from './correlation';
import { createLogger } from './logging';
import { createKnex } from './adapters/db';
import { KnexOutbox } from './adapters/knex_outbox';
import { KnexUnitOfWork } from './adapters/knex_unit_of_work';
import { PrometheusMetrics } from './adapters/metrics';
import { EmailNotifications, LogNotifications } from './adapters/notifications';
import { redisPublisher } from './adapters/redis_eventpublisher';
import { HotSkus, SkuLocks } from './adapters/sku_locks';
import { CommitGroup } from './adapters/write_plan';
import type { Event } from './domain/events';
import {
  COMMAND_HANDLERS,
  DURABLE_EVENTS,
  EVENT_HANDLERS,
  outboxHandlers,
} from './service_layer/handlers';
import { MessageBus } from './service_layer/messagebus';
import { OutboxRelay } from './service_layer/outbox';
import type { Logger, Notifications, Outbox, Publish } from './service_layer/ports';
import type { UnitOfWork } from './service_layer/unit_of_work';

export const TOKENS = {
  Logger: Symbol('Logger'),
  Db: Symbol('Db'),
  Redis: Symbol('Redis'),
  Notifications: Symbol('Notifications'),
  Publish: Symbol('Publish'),
  Outbox: Symbol('Outbox'),
  StartUow: Symbol('StartUow'),
  Metrics: Symbol('Metrics'),
} as const;

export interface Overrides {
  uow?: () => UnitOfWork;
  outbox?: Outbox;
  notifications?: Notifications;
  publish?: Publish;
  logger?: Logger;
  db?: Knex;
  redis?: Redis;
}

export interface Service {
  bus: MessageBus;
  relay: OutboxRelay;
  logger: Logger;
  metrics: PrometheusMetrics;
  /** The database, created on first use (views, readiness, dead letters). */
  db(): Knex;
  /** The Redis connection used for publishing and readiness checks, created on first use. */
  redis(): Redis;
  /** Closes whatever bootstrap opened; overrides belong to the caller. */
  close: () => Promise<void>;
}

export function bootstrap(overrides: Overrides = {}): Service {
  const c = container.createChildContainer();
  const closers: (() => Promise<unknown> | void)[] = [];
  registerAdapters(c, closers);
  registerOverrides(c, overrides);

  const logger = c.resolve<Logger>(TOKENS.Logger);
  // The relay hands durable events back to the bus, which is built below (the closure runs
  // only after that).
  const outboxed = outboxHandlers({
    publish: c.resolve<Publish>(TOKENS.Publish),
    notifications: c.resolve<Notifications>(TOKENS.Notifications),
    stockEmail: config.stockEmail(),
    handleDelivered: (event) => bus.handleDelivered(event),
  });
  c.register(TOKENS.StartUow, {
    useFactory: instanceCachingFactory((r) => {
      const db = r.resolve<Knex>(TOKENS.Db);
      const options = {
        outboxed: (event: Event) => outboxed.has(event.constructor as never),
        skuLocks: new SkuLocks(),
        hotSkus: new HotSkus(),
        commitGroup: new CommitGroup(db),
      };
      return () => new KnexUnitOfWork(db, options);
    }),
  });
  if (overrides.uow) c.register(TOKENS.StartUow, { useValue: overrides.uow });

  const metrics = c.resolve<PrometheusMetrics>(TOKENS.Metrics);
  const relay = new OutboxRelay(c.resolve<Outbox>(TOKENS.Outbox), outboxed, logger, {
    baseDelayMs: config.outboxRetryBaseMs(),
    maxDelayMs: config.outboxRetryMaxMs(),
    metrics,
    correlate: (id, fn) => withCorrelationId(id ?? undefined, fn),
  });
  const bus = new MessageBus({
    startUow: c.resolve<() => UnitOfWork>(TOKENS.StartUow),
    commandHandlers: COMMAND_HANDLERS,
    eventHandlers: EVENT_HANDLERS,
    log: logger,
    metrics,
    outbox: { has: (type) => outboxed.has(type as never), written: () => relay.kick() },
    durable: DURABLE_EVENTS,
  });
  return {
    bus,
    relay,
    logger,
    metrics,
    db: () => c.resolve<Knex>(TOKENS.Db),
    redis: () => c.resolve<Redis>(TOKENS.Redis),
    close: async () => {
      await relay.stop();
      for (const close of closers.reverse()) await close();
    },
  };
}

function registerAdapters(
  c: DependencyContainer,
  closers: (() => Promise<unknown> | void)[],
): void {
  c.register(TOKENS.Logger, {
    useFactory: instanceCachingFactory(() => createLogger('allocation')),
  });
  c.register(TOKENS.Db, {
    useFactory: instanceCachingFactory(() => {
      const db = createKnex(config.databaseUrl(), config.dbPoolSize());
      closers.push(() => db.destroy());
      return db;
    }),
  });
  c.register(TOKENS.Redis, {
    useFactory: instanceCachingFactory(() => {
      // No offline queue: while Redis is down a publish fails at once and the outbox keeps it.
      const redis = new Redis(config.redisUrl(), {
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        // publishes issued together (one relay drain) go out in one write
        enableAutoPipelining: true,
        // a Redis that accepts the connection but never answers fails the command, not hangs
        commandTimeout: config.redisCommandTimeoutMs(),
      });
      redis.on('error', () => undefined); // reconnects by itself; failures surface per command
      closers.push(() => redis.quit().catch(() => redis.disconnect()));
      return redis;
    }),
  });
  c.register(TOKENS.Notifications, {
    useFactory: instanceCachingFactory((r) => {
      const smtp = config.smtp();
      const logger = r.resolve<Logger>(TOKENS.Logger);
      if (!smtp) {
        logger.info({}, 'no SMTP_HOST set: out-of-stock notifications are written to the log');
        return new LogNotifications(logger);
      }
      const email = new EmailNotifications(smtp);
      closers.push(() => email.close());
      return email;
    }),
  });
  c.register(TOKENS.Publish, {
    useFactory: instanceCachingFactory((r) =>
      redisPublisher(r.resolve<Redis>(TOKENS.Redis), config.outboundStream()),
    ),
  });
  c.register(TOKENS.Outbox, {
    useFactory: instanceCachingFactory((r) => {
      const outbox = new KnexOutbox(r.resolve<Knex>(TOKENS.Db));
      closers.push(() => outbox.close());
      return outbox;
    }),
  });
  c.register(TOKENS.Metrics, {
    useFactory: instanceCachingFactory(
      (r) => new PrometheusMetrics(() => r.resolve<Outbox>(TOKENS.Outbox).backlog()),
    ),
  });
}

function registerOverrides(c: DependencyContainer, overrides: Overrides): void {
  const values: [symbol, unknown][] = [
    [TOKENS.Logger, overrides.logger],
    [TOKENS.Db, overrides.db],
    [TOKENS.Redis, overrides.redis],
    [TOKENS.Notifications, overrides.notifications],
    [TOKENS.Publish, overrides.publish],
    [TOKENS.Outbox, overrides.outbox],
  ];
  for (const [token, value] of values) {
    if (value !== undefined) c.register(token, { useValue: value });
  }
}
