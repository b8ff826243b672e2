// allocation_inbound_lag_seconds: how old the oldest inbound message not yet applied is. Each
// read is bounded whatever the backlog: one entry of a stream, by id, on Redis' own clock (a
// stream entry's id is the millisecond Redis appended it).
import type { RedisClient } from '../../adapters/redis/redis_connections';

const entryMs = (id: string): number => Number(id.split('-')[0]);

async function redisNowMs(redis: RedisClient): Promise<number> {
  const [seconds, micros] = await redis.time();
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}

const ageSeconds = (nowMs: number, ids: (string | undefined)[]): number => {
  const oldest = Math.min(...ids.filter((id) => id !== undefined).map(entryMs));
  return Number.isFinite(oldest) ? Math.max(0, (nowMs - oldest) / 1000) : 0;
};

/**
 * A stream whose handled entries are deleted (the pub/sub spill): its first entry. The spill
 * entry's id is when it was written there, a little after the message arrived.
 */
export async function firstEntryAgeSeconds(redis: RedisClient, stream: string): Promise<number> {
  const [nowMs, first] = await Promise.all([
    redisNowMs(redis),
    redis.xrange(stream, '-', '+', 'COUNT', 1),
  ]);
  return ageSeconds(nowMs, [first[0]?.[0]]);
}

/**
 * A stream read by a consumer group (the stream consumer): the first entry still pending
 * (delivered, not acknowledged), or else the first not yet delivered to the group.
 */
export async function groupLagSeconds(
  redis: RedisClient,
  stream: string,
  group: string,
): Promise<number> {
  const groups = (await redis.xinfo('GROUPS', stream).catch(() => [])) as unknown[][];
  const info = groups.find((fields) => String(fields[fields.indexOf('name') + 1]) === group);
  if (!info) return 0;
  const lastDelivered = String(info[info.indexOf('last-delivered-id') + 1]);
  const [nowMs, pending, unread] = await Promise.all([
    redisNowMs(redis),
    redis.xpending(stream, group, '-', '+', 1) as Promise<[string, ...unknown[]][]>,
    redis.xrange(stream, `(${lastDelivered}`, '+', 'COUNT', 1),
  ]);
  return ageSeconds(nowMs, [pending[0]?.[0], unread[0]?.[0]]);
}
