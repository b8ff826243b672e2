// The Redis entrypoint's part of the composition root (bootstrap.ts): the change_batch_quantity
// consumer, pub/sub or stream per config, on a connection of its own, and what /metrics reads of
// the messages waiting for it.
import type { Closers } from './bootstrap_adapters';
import * as config from './config';
import type { DeadLetters } from './adapters/postgres/dead_letter_store';
import type { PrometheusMetrics } from './adapters/prometheus/metrics';
import { connectRedis, type RedisClient } from './adapters/redis/redis_connections';
import { firstEntryAgeSeconds, groupLagSeconds } from './entrypoints/redis/inbound_lag';
import { PubsubSpill } from './entrypoints/redis/pubsub_spill';
import { CHANGE_BATCH_QUANTITY, RedisEventConsumer } from './entrypoints/redis/redis_eventconsumer';
import { RedisStreamConsumer } from './entrypoints/redis/redis_streamconsumer';
import type { MessageBus } from './service_layer/messagebus';
import type { Logger } from './service_layer/ports';

export interface ConsumerDeps {
  bus: MessageBus;
  /** The publishing connection: the pub/sub spill and the stream's lag are read on it. */
  redis: RedisClient;
  deadLetters: DeadLetters;
  logger: Logger;
  metrics: PrometheusMetrics;
}

/** The consumer, on its own connection (closed with the process's other adapters). */
export function inboundConsumer(
  deps: ConsumerDeps,
  { closers, paused }: { closers: Closers; paused: () => Promise<boolean> },
): { start(): Promise<void>; stop(): Promise<void> } {
  const { bus, redis, deadLetters, logger, metrics } = deps;
  // A subscribed (or blocked) connection can do nothing else, so the consumer has its own.
  // Its commands time out too (above the stream consumer's 1 s blocking read): a read that
  // gets no answer is retried, an acknowledgement that gets none leaves the entry to be claimed.
  const connection = connectRedis(config.redisTarget(), 'consumer', {
    commandTimeoutMs: config.redisCommandTimeoutMs(),
  });
  connection.on('error', (error) => logger.warn({ err: error }, 'redis consumer error'));
  closers.push(() => connection.disconnect());
  if (config.inboundTransport() !== 'stream') {
    const { spillStream, ...limits } = config.pubsubConsumer();
    const spill = new PubsubSpill(redis, spillStream, logger);
    const options = { ...limits, paused };
    const consumer = new RedisEventConsumer(connection, bus, deadLetters, logger, spill, options);
    metrics.watchPubsubQueue(() => consumer.stats());
    metrics.watchInboundLag(() => consumer.lagSeconds());
    return consumer;
  }
  // read on the publishing connection: the consumer's own is blocked in XREADGROUP
  metrics.watchInboundLag(() => inboundWaitingInRedis(redis));
  const options = { ...config.streamConsumer(), paused };
  return new RedisStreamConsumer(connection, bus, deadLetters, logger, options);
}

/** The oldest inbound message waiting in Redis: unread or pending in the stream, or spilled. */
export function inboundWaitingInRedis(redis: RedisClient): Promise<number> {
  return config.inboundTransport() === 'stream'
    ? groupLagSeconds(redis, CHANGE_BATCH_QUANTITY, config.streamConsumer().group)
    : firstEntryAgeSeconds(redis, config.pubsubConsumer().spillStream);
}
