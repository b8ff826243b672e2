import type { Redis } from 'ioredis';
import { isDatabaseUnavailable } from '../adapters/db';
import type { DeadLetters } from '../adapters/dead_letters';
import { withCorrelationId } from '../correlation';
import { ChangeBatchQuantity } from '../domain/commands';
import type { Logger, MessageBus } from '../service_layer/messagebus';
import { backoffMs } from '../service_layer/outbox';
import { ChangeBatchQuantityMessage, describeIssues } from './api_schemas';

export const CHANGE_BATCH_QUANTITY = 'change_batch_quantity';

/** Why a message cannot be processed, ever: it goes to the dead-letter store. */
class Rejected extends Error {
  name = 'Rejected';
}

/**
 * Turns each `change_batch_quantity` message into a ChangeBatchQuantity command. Messages are
 * handled one at a time, in arrival order, so a later quantity for a batch wins. A bad message is
 * set aside with its reason and the consumer goes on; ioredis reconnects and resubscribes by itself.
 */
export class RedisEventConsumer {
  private queue: Promise<void> = Promise.resolve();
  private stopping = false;

  constructor(
    private readonly subscriber: Redis,
    private readonly bus: MessageBus,
    private readonly deadLetters: DeadLetters,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    this.subscriber.on('message', (channel: string, payload: string) => {
      if (channel !== CHANGE_BATCH_QUANTITY || this.stopping) return;
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
  async handle(payload: string): Promise<void> {
    let command: ChangeBatchQuantity;
    try {
      command = parse(payload);
    } catch (error) {
      return this.setAside(payload, (error as Error).message);
    }
    await withCorrelationId(command.messageId, async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          await this.bus.handle(command);
          this.log.info({ batchref: command.ref, qty: command.qty }, 'batch quantity changed');
          return;
        } catch (error) {
          // The database being down is not the message's fault: wait for it, don't dead-letter.
          if (isDatabaseUnavailable(error) && !this.stopping) {
            const delay = backoffMs(attempt, 100, 5_000);
            this.log.warn({ err: error, delay }, 'database unavailable; will retry the message');
            await new Promise((resolve) => setTimeout(resolve, delay));
            continue;
          }
          return this.setAside(payload, `${(error as Error).name}: ${(error as Error).message}`);
        }
      }
    });
  }

  private async setAside(payload: string, reason: string): Promise<void> {
    this.log.warn({ channel: CHANGE_BATCH_QUANTITY, payload, reason }, 'message set aside');
    try {
      await this.deadLetters.add(CHANGE_BATCH_QUANTITY, payload, reason);
    } catch (error) {
      // The log line above still holds the payload and the reason.
      this.log.error({ err: error, payload }, 'could not store the dead letter');
    }
  }
}

function parse(payload: string): ChangeBatchQuantity {
  let json: unknown;
  try {
    json = JSON.parse(payload);
  } catch {
    throw new Rejected('not JSON');
  }
  const result = ChangeBatchQuantityMessage.safeParse(json);
  if (!result.success) throw new Rejected(describeIssues(result.error));
  const { batchref, qty, message_id, id } = result.data;
  return new ChangeBatchQuantity(batchref, qty, message_id ?? id);
}
