// How many inbound change_batch_quantity messages wait, and for how long (GET /deliveries), read
// from Redis, where they wait: the pub/sub consumer's spill stream (where everything goes while
// the consumer is paused; handled entries are deleted, so its length is the backlog), or the
// inbound stream's consumer group (entries pending plus those not yet read).
import type { RedisClient } from '../../adapters/redis/redis_connections';
import * as config from '../../config';
import type { Backlog } from '../../service_layer/deliveries';
import { CHANGE_BATCH_QUANTITY } from './redis_eventconsumer';

export type InboundSource =
  | { transport: 'pubsub'; spillStream: string }
  | { transport: 'stream'; stream: string; group: string };

/** Where this deployment's inbound messages wait (INBOUND_TRANSPORT). */
export function configuredInboundSource(): InboundSource {
  if (config.inboundTransport() === 'pubsub') {
    return { transport: 'pubsub', spillStream: config.pubsubConsumer().spillStream };
  }
  return {
    transport: 'stream',
    stream: CHANGE_BATCH_QUANTITY,
    group: config.streamConsumer().group,
  };
}

/** Milliseconds since the entry was added: a stream entry id starts with its time. */
function ageSeconds(entryId: string | undefined): number {
  const ms = Number(entryId?.split('-')[0]);
  return Number.isFinite(ms) && entryId ? Math.max(0, (Date.now() - ms) / 1000) : 0;
}

export async function inboundBacklog(redis: RedisClient, source: InboundSource): Promise<Backlog> {
  if (source.transport === 'pubsub') {
    const [count, first] = await Promise.all([
      redis.xlen(source.spillStream),
      redis.xrange(source.spillStream, '-', '+', 'COUNT', 1),
    ]);
    return { count, oldestAgeSeconds: ageSeconds(first[0]?.[0]) };
  }
  const groups = (await redis.xinfo('GROUPS', source.stream).catch(() => [])) as unknown[][];
  const fields = groups.map(asRecord).find((g) => g.name === source.group);
  if (!fields) {
    // No group yet: everything in the stream waits for the first consumer.
    const [count, first] = await Promise.all([
      redis.xlen(source.stream).catch(() => 0),
      redis.xrange(source.stream, '-', '+', 'COUNT', 1).catch(() => []),
    ]);
    return { count, oldestAgeSeconds: ageSeconds(first[0]?.[0]) };
  }
  const pending = Number(fields.pending ?? 0);
  const lag = Number(fields.lag ?? 0);
  const oldest =
    pending > 0
      ? ((await redis.xpending(source.stream, source.group)) as [number, string | null])[1]
      : (
          await redis.xrange(
            source.stream,
            `(${String(fields['last-delivered-id'])}`,
            '+',
            'COUNT',
            1,
          )
        )[0]?.[0];
  return { count: pending + lag, oldestAgeSeconds: ageSeconds(oldest ?? undefined) };
}

function asRecord(flat: unknown[]): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) record[String(flat[i])] = flat[i + 1];
  return record;
}
