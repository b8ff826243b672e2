// The whole service in-process (API app, consumer, relay) on the real PostgreSQL and Redis
// that the test run started, as `make run` wires it.
import { Redis } from 'ioredis';
import type Koa from 'koa';
import { DeadLetters } from '../../src/allocation/adapters/dead_letters';
import { bootstrap, type Service } from '../../src/allocation/bootstrap';
import { createApp } from '../../src/allocation/entrypoints/koa_app';
import { readinessChecks } from '../../src/allocation/entrypoints/readiness';
import { RedisEventConsumer } from '../../src/allocation/entrypoints/redis_eventconsumer';
import { testDb } from '../db';

export interface TestService {
  app: Koa;
  service: Service;
  deadLetters: DeadLetters;
  stop(): Promise<void>;
}

export async function startTestService(): Promise<TestService> {
  const db = await testDb();
  const service = bootstrap({ db });
  const subscriber = new Redis(process.env.REDIS_URL as string, { maxRetriesPerRequest: null });
  const deadLetters = new DeadLetters(db);
  const consumer = new RedisEventConsumer(subscriber, service.bus, deadLetters, service.logger);
  await consumer.start();
  service.relay.start(100);
  const app = createApp({
    bus: service.bus,
    db,
    log: service.logger,
    readiness: readinessChecks(db, service.redis()),
    metrics: service.metrics,
    deadLetters,
  });
  return {
    app,
    service,
    deadLetters,
    stop: async () => {
      await consumer.stop();
      subscriber.disconnect();
      await service.close();
    },
  };
}

/** Collects what is published on a channel, to assert on it. */
export async function listen(channel: string): Promise<{
  messages: Record<string, unknown>[];
  close(): void;
}> {
  const redis = new Redis(process.env.REDIS_URL as string);
  const messages: Record<string, unknown>[] = [];
  redis.on('message', (_channel: string, payload: string) => {
    messages.push(JSON.parse(payload) as Record<string, unknown>);
  });
  await redis.subscribe(channel);
  return { messages, close: () => redis.disconnect() };
}

export function redisUrl(): string {
  return process.env.REDIS_URL as string;
}
