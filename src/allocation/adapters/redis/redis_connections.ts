// The one factory of Redis connections (bootstrap, the consumers, tests): one server or a Redis
// Cluster, used the same way. ioredis' Cluster client routes each keyed command (the streams'
// XADD/XREADGROUP/XACK...) to the node owning the key's slot; classic PUBLISH and SUBSCRIBE
// carry no key, and the cluster bus forwards every PUBLISH to every node, so a subscriber on
// any node receives it. Publish through publishInOrder, which keeps a channel's order.
import { Cluster, Redis } from 'ioredis';

/** A connection to one Redis or to a Redis Cluster: they answer the same commands. */
export type RedisClient = Redis | Cluster;

/** Where Redis is: one server's URL, or a cluster's seed nodes (any live one finds the rest). */
export type RedisTarget = { url: string } | { clusterNodes: { host: string; port: number }[] };

/**
 * - `publisher`: commands that must fail fast while Redis is down (no offline queue, one
 *   retry: the outbox keeps the message and the relay retries); publishes issued together (one
 *   relay drain) go out in one write.
 * - `consumer`: a connection of its own, since SUBSCRIBE and a blocking XREADGROUP hold it;
 *   it waits for Redis as long as it takes and reconnects (and resubscribes) by itself.
 * - `client`: a plain connection (tests, tools).
 */
export type RedisRole = 'publisher' | 'consumer' | 'client';

const ROLE_OPTIONS = {
  publisher: { enableOfflineQueue: false, maxRetriesPerRequest: 1, enableAutoPipelining: true },
  consumer: { maxRetriesPerRequest: null },
  client: {},
} as const;

export function connectRedis(
  target: RedisTarget,
  role: RedisRole,
  options: { commandTimeoutMs?: number } = {},
): RedisClient {
  const { enableOfflineQueue, enableAutoPipelining, ...perNode } = {
    enableOfflineQueue: true,
    enableAutoPipelining: false,
    ...ROLE_OPTIONS[role],
    commandTimeout: options.commandTimeoutMs,
  };
  if ('url' in target) {
    return new Redis(target.url, { enableOfflineQueue, enableAutoPipelining, ...perNode });
  }
  return new Cluster(target.clusterNodes, {
    enableOfflineQueue,
    enableAutoPipelining,
    redisOptions: perNode,
    // Without an offline queue, a command sent while the slots are refreshed fails at once
    // rather than waiting: the caller (relay, consumer loop) retries anyway.
    clusterRetryStrategy: (times) => Math.min(100 * times, 2_000),
  });
}

// A script naming the channel as its one key: see publishInOrder.
const PUBLISH_THROUGH_CHANNEL_SLOT = "return redis.call('PUBLISH', KEYS[1], ARGV[1])";

/**
 * PUBLISH, with a channel's messages reaching subscribers in the order they were sent. On a
 * Redis Cluster, ioredis sends a command without a key to any node, and a message published on
 * one node reaches a subscriber on another through the cluster bus, later: two messages sent
 * through two nodes can arrive swapped (measured: 15 of 500 sequential publishes). As a script
 * that names the channel as its key, every message of a channel goes through the node owning
 * that name's slot (where the outbound stream named like the channel lives too), in order.
 */
export async function publishInOrder(
  redis: RedisClient,
  channel: string,
  message: string,
): Promise<void> {
  if (redis.isCluster) await redis.eval(PUBLISH_THROUGH_CHANNEL_SLOT, 1, channel, message);
  else await redis.publish(channel, message);
}
