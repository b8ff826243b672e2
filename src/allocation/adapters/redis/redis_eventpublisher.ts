import { publishInOrder, type RedisClient } from './redis_connections';
import { redisDeliveryError } from './redis_errors';
import { Allocated, type Event } from '../../domain/events';
import type { LineAllocatedMessage } from '../../message_schemas';
import type { MessageMeta, Publish } from '../../service_layer/ports';

/**
 * The public shape of each outbound message, in one place: SPEC section 4 is a contract, while
 * the internal event's names may change. Typed as the schema the AsyncAPI document shows
 * (message_schemas.ts), so a field the document does not name, or names differently, does not
 * compile; tests/e2e/message_contracts.test.ts validates a published message against that
 * document. Not parsed through the schema on every publish: its fields come from commands
 * already validated on the way in, and the parse was the relay's largest cost of its own (zod
 * 6.5 % of the service's CPU draining a 100,000-message backlog, V8 profile). Without it, make
 * bench drain, 5 alternating pairs (2026-12-07): 0.31 / 0.32 / 0.29 / 0.42 / 0.35 -> 0.36 /
 * 0.36 / 0.40 / 0.39 / 0.49 x the minimal relay; relay CPU per message 0.085 -> 0.075 and
 * 0.080 -> 0.069 ms in the two pairs that printed it.
 * The envelope: a stable message id (duplicates from an at-least-once redelivery share it), the
 * commit time, the correlation id of the chain that caused it (a message that starts a chain is
 * its own), and the delivery's trace context.
 */
export function toPublicMessage(event: Event, meta: MessageMeta): LineAllocatedMessage {
  if (event instanceof Allocated) {
    return {
      orderid: event.orderid,
      sku: event.sku,
      qty: event.qty,
      batchref: event.batchref,
      type: 'line_allocated',
      version: 1,
      occurred_at: meta.occurredAt.toISOString(),
      message_id: meta.messageId,
      correlation_id: meta.correlationId ?? meta.messageId,
      traceparent: meta.traceparent,
    };
  }
  throw new Error(`No public message for ${event.constructor.name}`);
}

/**
 * Publishes on a connection with no offline queue, so an outage fails fast and the relay
 * retries. With `stream`, each message is also appended to a stream named like the channel
 * (field `payload`, same JSON), in the same round trip, so a subscriber that was down can catch
 * up from where it left off. On a Redis Cluster the transaction is allowed because it names one
 * key (the stream; PUBLISH has none), so it runs on the node that owns the stream's slot, and the
 * cluster bus forwards the PUBLISH to subscribers on every node.
 */
export function redisPublisher(
  redis: RedisClient,
  stream: { enabled: boolean; maxLength: number } = { enabled: false, maxLength: 0 },
): Publish {
  const send = async (channel: string, message: string) => {
    if (!stream.enabled) {
      await publishInOrder(redis, channel, message);
      return;
    }
    const results = await redis
      .multi()
      .publish(channel, message)
      .xadd(channel, 'MAXLEN', '~', stream.maxLength, '*', 'payload', message)
      .exec();
    const failed = results?.find(([error]) => error !== null);
    if (!results || failed) throw failed?.[0] ?? new Error('Redis transaction aborted');
  };
  return async (channel, event, meta) => {
    const message = JSON.stringify(toPublicMessage(event, meta));
    // An outage is told apart from a refusal here, where the client's errors are known.
    await send(channel, message).catch((error: unknown) => {
      throw redisDeliveryError(error);
    });
  };
}
