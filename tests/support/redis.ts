// The test run's Redis, from REDIS_URL (set by the devenv wrapper), or the Redis Cluster of
// REDIS_CLUSTER_NODES while a suite of redis_setups.ts runs on one.
import {
  connectRedis,
  type RedisClient,
} from '../../src/allocation/adapters/redis/redis_connections';
import { redisTarget } from '../../src/allocation/config';

export function redisUrl(): string {
  const url = process.env.REDIS_URL;
  if (!url) throw new Error('REDIS_URL is not set: run the tests through make');
  return url;
}

/** Collects what is published on a channel, to assert on it; close() when done. */
export async function listen(channel: string): Promise<{
  messages: Record<string, unknown>[];
  close(): void;
}> {
  const redis = testRedis();
  const messages: Record<string, unknown>[] = [];
  redis.on('message', (_channel: string, payload: string) => {
    messages.push(JSON.parse(payload) as Record<string, unknown>);
  });
  await redis.subscribe(channel);
  return { messages, close: () => redis.disconnect() };
}

/** A connection to the Redis the service uses now: REDIS_CLUSTER_NODES' cluster, or REDIS_URL. */
export function testRedis(): RedisClient {
  return connectRedis(redisTarget(), 'client');
}
