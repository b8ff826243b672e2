import type { RedisClient } from '../adapters/redis_connections';
import type { DeadLetters } from '../adapters/dead_letters';
import type { MessageBus } from '../service_layer/messagebus';
import type { Logger } from '../service_layer/ports';
import { ChangeBatchQuantityInbound } from './inbound';

export const CHANGE_BATCH_QUANTITY = 'change_batch_quantity';

/**
 * Subscribes to the `change_batch_quantity` channel (SPEC section 4). Messages are handled one
 * at a time, in arrival order, so a later quantity for a batch wins. A bad message is set aside
 * with its reason and the consumer goes on; ioredis reconnects and resubscribes by itself.
 * Pub/sub delivers every message to every subscriber: run one of these per deployment, or use
 * the stream consumer to scale out.
 */
export class RedisEventConsumer {
  private queue: Promise<void> = Promise.resolve();
  private stopping = false;
  private readonly inbound: ChangeBatchQuantityInbound;

  constructor(
    private readonly subscriber: RedisClient,
    bus: MessageBus,
    private readonly deadLetters: DeadLetters,
    private readonly log: Logger,
  ) {
    this.inbound = new ChangeBatchQuantityInbound(bus, log, () => this.stopping);
  }

  async start(): Promise<void> {
    // As bytes: a message over the size limit is never decoded into a string (only 'message'
    // listeners make ioredis decode).
    this.subscriber.on('messageBuffer', (channel: Buffer, payload: Buffer) => {
      if (channel.toString() !== CHANGE_BATCH_QUANTITY || this.stopping) return;
      this.queue = this.queue.then(() => this.handle(payload));
    });
    await this.subscriber.subscribe(CHANGE_BATCH_QUANTITY);
    this.log.info({ channel: CHANGE_BATCH_QUANTITY }, 'consumer subscribed');
  }

  /** Stops taking messages and finishes the ones already received. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.subscriber.unsubscribe().catch(() => undefined);
    await this.queue;
  }

  /** Handles one raw message; never throws, so one message cannot stop the consumer. */
  async handle(payload: Buffer): Promise<void> {
    const outcome = await this.inbound.process(payload);
    if (outcome.kind !== 'handled') {
      const { payload: kept, reason } = outcome;
      await setAside(this.deadLetters, this.log, CHANGE_BATCH_QUANTITY, kept, reason);
    }
  }
}

/**
 * Stores a message that cannot be processed, with the reason, for an operator to see. False
 * when it could not be stored: a transport that can redeliver must then not acknowledge it.
 */
export async function setAside(
  deadLetters: DeadLetters,
  log: Logger,
  source: string,
  payload: string,
  reason: string,
): Promise<boolean> {
  log.warn({ source, payload, reason }, 'message set aside');
  try {
    await deadLetters.add(source, payload, reason);
    return true;
  } catch (error) {
    // The log line above still holds the payload and the reason.
    log.error({ err: error, payload }, 'could not store the dead letter');
    return false;
  }
}
