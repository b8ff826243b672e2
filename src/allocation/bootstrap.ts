// The composition root (SPEC section 8): with bootstrap_adapters.ts, which registers the real
// adapters in its container, the only place that builds them, for every role a process can run
// (API, consumer, relay). main.ts only starts and stops them; tests pass fakes as overrides. The
// container earns its place by building each adapter once, on first use, in dependency order,
// and closing only what it opened.
import 'reflect-metadata';
import type { RequestListener } from 'node:http';
import type Koa from 'koa';
import type { Knex } from 'knex';
import type pg from 'pg';
import { container, type DependencyContainer } from 'tsyringe';
import { postgresUnitsOfWork, registerAdapters, TOKENS, type Closers } from './bootstrap_adapters';
import { inboundConsumer, inboundWaitingInRedis } from './bootstrap_consumer';
import * as config from './config';
import type { DeadLetters } from './adapters/postgres/dead_letter_store';
import type { PrometheusMetrics } from './adapters/prometheus/metrics';
import type { RedisClient } from './adapters/redis/redis_connections';
import { countSuppressedNotifications } from './adapters/prometheus/notification_metrics';
import { outboxBacklogByHandler } from './adapters/postgres/delivery_controls';
import { configuredInboundSource, inboundBacklog } from './entrypoints/redis/inbound_backlog';
import type { DeliveryControls } from './service_layer/deliveries';
import type { AuthTokens } from './entrypoints/http/auth';
import { deadLetterReplayDeps } from './entrypoints/redis/dead_letter_redelivery';
import { apiListener, createApp, type AppDeps } from './entrypoints/http/koa_app';
import { livenessFirst } from './entrypoints/http/middleware';
import { readinessChecks } from './entrypoints/http/readiness';
import { BATCHED_COMMANDS, COMMAND_HANDLERS, EVENT_HANDLERS } from './service_layer/handlers';
import { MessageBus } from './service_layer/messagebus';
import { OutboxRelay } from './service_layer/outbox';
import { currentTraceparent } from './service_layer/tracing';
import type { Logger, Notifications, Outbox, Publish } from './service_layer/ports';
import type { UnitOfWork } from './service_layer/unit_of_work';

export interface Overrides {
  uow?: () => UnitOfWork;
  outbox?: Outbox;
  notifications?: Notifications;
  publish?: Publish;
  logger?: Logger;
  db?: Knex;
  /** The units of work's connections (pg's pool); with `db`, the same database. */
  pool?: pg.Pool;
  redis?: RedisClient;
  auth?: AuthTokens;
}

/** What a process runs; each piece is built on first use. */
export interface Service {
  bus: MessageBus;
  relay: OutboxRelay;
  logger: Logger;
  metrics: PrometheusMetrics;
  db(): Knex;
  /** The Redis connection for publishing and readiness checks. */
  redis(): RedisClient;
  deadLetters(): DeadLetters;
  /** The HTTP API (not listening: main or a test does that). */
  app(): Koa;
  /** What the HTTP server runs: liveness first, then the API behind admission control. */
  httpListener(): RequestListener;
  /** The change_batch_quantity consumer (pub/sub or stream, per config) on its own connection. */
  consumer(): { start(): Promise<void>; stop(): Promise<void> };
  /** Closes whatever bootstrap opened; overrides belong to the caller. */
  close: () => Promise<void>;
}

export function bootstrap(overrides: Overrides = {}): Service {
  const c = container.createChildContainer();
  const closers: Closers = [];
  registerAdapters(c, closers);
  registerOverrides(c, overrides);
  const logger = c.resolve<Logger>(TOKENS.Logger);
  const metrics = c.resolve<PrometheusMetrics>(TOKENS.Metrics);
  const controls = () => c.resolve<DeliveryControls>(TOKENS.DeliveryControls);

  const bus: MessageBus = new MessageBus({
    startUow: overrides.uow ?? postgresUnitsOfWork(c),
    commandHandlers: COMMAND_HANDLERS,
    batchedCommands: BATCHED_COMMANDS,
    batchWaitMs: config.skuQueueTimeoutMs(),
    eventHandlers: EVENT_HANDLERS,
    deps: {
      publish: c.resolve<Publish>(TOKENS.Publish),
      notifications: c.resolve<Notifications>(TOKENS.Notifications),
      stockEmail: config.stockEmail(),
    },
    log: logger,
    metrics,
    outboxWritten: () => relay.kick(),
    committed: countSuppressedNotifications(metrics.registry),
  });
  const relay = new OutboxRelay(
    c.resolve<Outbox>(TOKENS.Outbox),
    (handler, messages) =>
      bus.handleEvents(
        handler,
        messages.map(({ event, id, correlationId, occurredAt, cause }) => ({
          event,
          // the relay runs this in the delivery's span: what it publishes names that span
          meta: {
            messageId: id,
            correlationId,
            occurredAt,
            traceparent: currentTraceparent(),
            cause,
          },
        })),
      ),
    logger,
    {
      baseDelayMs: config.outboxRetryBaseMs(),
      maxDelayMs: config.outboxRetryMaxMs(),
      maxAttempts: config.outboxMaxAttempts(),
      probeMs: config.outboxProbeMs(),
      metrics,
      // A test's own outbox comes without a database: nothing is paused there.
      controls: overrides.outbox
        ? undefined
        : {
            state: () => controls().state(),
            circuitChanged: (handler, open) => controls().circuitChanged(handler, open),
          },
    },
  );
  const db = () => c.resolve<Knex>(TOKENS.Db);
  const redis = () => c.resolve<RedisClient>(TOKENS.Redis);
  const deadLetters = () => c.resolve<DeadLetters>(TOKENS.DeadLetters);
  let consumerLagWatched = false;
  const appDeps = (): AppDeps => {
    const readiness = readinessChecks(db(), redis(), logger);
    metrics.watchReadiness(readiness); // allocation_dependency_up: readiness an alert can read
    // without a consumer here (role api), /metrics still shows what waits for one in Redis
    if (!consumerLagWatched) metrics.watchInboundLag(() => inboundWaitingInRedis(redis()));
    return {
      bus,
      db: db(),
      pool: c.resolve<pg.Pool>(TOKENS.Pool),
      readPool: c.resolve<pg.Pool>(TOKENS.ReadPool),
      log: logger,
      readiness,
      metrics,
      deadLetters: deadLetterReplayDeps(bus, logger, deadLetters(), () => relay.kick()),
      deliveries: {
        controls: controls(),
        outboxBacklog: () => outboxBacklogByHandler(db()),
        inboundBacklog: () => inboundBacklog(redis(), configuredInboundSource()),
      },
      auth: overrides.auth ?? { apiToken: config.apiToken(), adminToken: config.adminToken() },
      limits: config.maxInflight(),
      bodyTimeoutMs: config.bodyTimeoutMs(),
    };
  };
  const app = () => createApp(appDeps());
  return {
    bus,
    relay,
    logger,
    metrics,
    db,
    redis,
    deadLetters,
    app,
    httpListener: () => livenessFirst(apiListener(appDeps())),
    consumer: () => {
      consumerLagWatched = true;
      return inboundConsumer(
        { bus, redis: redis(), deadLetters: deadLetters(), logger, metrics },
        {
          closers,
          paused: () =>
            controls()
              .paused()
              .then((handlers) => handlers.has('inbound')),
        },
      );
    },
    close: async () => {
      await relay.stop();
      for (const close of closers.reverse()) await close();
    },
  };
}

function registerOverrides(c: DependencyContainer, overrides: Overrides): void {
  const values: [symbol, unknown][] = [
    [TOKENS.Logger, overrides.logger],
    [TOKENS.Db, overrides.db],
    [TOKENS.Pool, overrides.pool],
    [TOKENS.Redis, overrides.redis],
    [TOKENS.Notifications, overrides.notifications],
    [TOKENS.Publish, overrides.publish],
    [TOKENS.Outbox, overrides.outbox],
  ];
  for (const [token, value] of values) {
    if (value !== undefined) c.register(token, { useValue: value });
  }
}
