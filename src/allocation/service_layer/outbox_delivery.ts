// How the relay (outbox.ts) delivers one batch of the outbox: which messages go together, and
// what a failure makes of a message (a retry with its backoff, or a dead letter).
import type { DeliveryReport, Logger, Metrics, PendingMessage } from './ports';
import { backoffMs } from './backoff';
import { PermanentDeliveryError } from './errors';
import { inDeliverySpan } from './tracing';

/** Runs one handler on messages of one product, in commit order (MessageBus.handleEvents). */
export type Deliver = (handler: string, messages: PendingMessage[]) => Promise<void>;

export interface DeliveryRetryOptions {
  /** Backoff after a failed delivery: capped exponential with jitter. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Deliveries of a message before it becomes a dead letter. */
  maxAttempts: number;
}

export class OutboxDelivery {
  constructor(
    private readonly deliverTo: Deliver,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    private readonly options: DeliveryRetryOptions,
  ) {}

  /**
   * Products and handlers are delivered concurrently, so a drain's publishes share a round
   * trip; the messages of one product and handler go to it together, in commit order. If they
   * fail together, they are tried one by one, so one bad message holds back only those after it
   * (until it becomes a dead letter, which holds back nothing). Nothing more is sent once the
   * lease may be another relay's: what is left stays due, for the new leader, in order.
   */
  async deliver(messages: PendingMessage[], stillLeading: () => boolean): Promise<DeliveryReport> {
    const report: DeliveryReport = { delivered: [], failed: [], dead: [] };
    const groups = new Map<string, PendingMessage[]>();
    for (const message of messages) {
      const key = JSON.stringify([message.key, message.event.constructor.name, message.handler]);
      const group = groups.get(key);
      if (group) group.push(message);
      else groups.set(key, [message]);
    }
    await Promise.all(
      [...groups.values()].map(async (group) => {
        if (!stillLeading()) return;
        if (group.length > 1 && (await this.deliverGroup(group, report)) === 'delivered') return;
        for (const message of group) {
          if (!stillLeading() || (await this.deliverGroup([message], report)) === 'retry') return;
        }
      }),
    );
    return report;
  }

  /**
   * Delivers a group and records the outcome of a single message in the report: a retry with
   * its backoff, or a dead letter once it failed permanently or maxAttempts times.
   */
  private async deliverGroup(
    group: PendingMessage[],
    report: DeliveryReport,
  ): Promise<'delivered' | 'retry' | 'dead'> {
    const [{ handler }] = group;
    const type = group[0].event.constructor.name;
    try {
      await inDeliverySpan(`${type}.${handler}`, group, () => this.deliverTo(handler, group));
      report.delivered.push(...group.map((m) => m.id));
      this.metrics.delivered(`${type}.${handler}`, 'ok');
      return 'delivered';
    } catch (error) {
      this.metrics.delivered(`${type}.${handler}`, 'error');
      if (group.length > 1) return 'retry'; // tried again one by one
      const [message] = group;
      const attempts = message.attempts + 1;
      if (error instanceof PermanentDeliveryError || attempts >= this.options.maxAttempts) {
        this.log.error(
          { err: error, messageId: message.id, handler, attempts, ...chainOf(message) },
          'outbox delivery failed for good; moved to the dead letters',
        );
        report.dead.push({ id: message.id, error: String(error) });
        return 'dead';
      }
      const retryInMs = backoffMs(
        message.attempts,
        this.options.baseDelayMs,
        this.options.maxDelayMs,
      );
      this.log.warn(
        {
          err: error,
          messageId: message.id,
          handler,
          attempts: message.attempts + 1,
          retryInMs,
          ...chainOf(message),
        },
        'outbox delivery failed; will retry',
      );
      report.failed.push({ id: message.id, error: String(error), retryInMs });
      return 'retry';
    }
  }
}

/** A log line's correlation id: the chain of the message it is about. */
function chainOf(message: PendingMessage): { correlation_id?: string } {
  return message.correlationId === null ? {} : { correlation_id: message.correlationId };
}
