// The relay for messages that leave the service (its port, Outbox, is in ports.ts). The unit of work writes them to the
// outbox in the transaction that raised them; the relay delivers them after commit, so nothing
// is sent for a rolled-back change and nothing committed is lost when Redis or SMTP is down.
import {
  NO_METRICS,
  type Logger,
  type Metrics,
  type Outbox,
  type PendingMessage,
  type DeliveryReport,
} from './ports';
import { setTimeout as sleep } from 'node:timers/promises';
import { backoffMs } from './backoff';
import { PermanentDeliveryError } from './errors';
import { continuingTrace, inDeliverySpan } from './tracing';

/** Runs one handler on messages of one product, in commit order (MessageBus.handleEvents). */
export type Deliver = (handler: string, messages: PendingMessage[]) => Promise<void>;

export interface RelayOptions {
  batchSize: number;
  /** Backoff after a failed delivery: capped exponential with jitter. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Deliveries of a message before it becomes a dead letter. */
  maxAttempts: number;
  /**
   * Least time between two drains. Under load, commits keep asking for drains; waiting this
   * long lets each drain take a batch rather than one message per database round trip.
   */
  batchWindowMs: number;
}

export const DEFAULT_RELAY_OPTIONS: RelayOptions = {
  batchSize: 500,
  baseDelayMs: 200,
  maxDelayMs: 30_000,
  maxAttempts: 248, // about an hour with the delays above (config.outboxMaxAttempts)
  batchWindowMs: 5,
};

export class OutboxRelay {
  private draining: Promise<number> | undefined;
  private stopped = false;
  private again = false;
  private timer: NodeJS.Timeout | undefined;

  private readonly options: RelayOptions;
  private readonly metrics: Metrics;

  constructor(
    private readonly outbox: Outbox,
    private readonly deliverTo: Deliver,
    private readonly log: Logger,
    options: Partial<RelayOptions> & { metrics?: Metrics } = {},
  ) {
    this.options = { ...DEFAULT_RELAY_OPTIONS, ...options };
    this.metrics = options.metrics ?? NO_METRICS;
  }

  /** Delivers everything that is due; concurrent calls share one drain. */
  deliverPending(): Promise<number> {
    if (this.draining) {
      this.again = true;
      return this.draining;
    }
    // A drain serves every waiting message, not the trace of whichever commit asked for it.
    this.draining = continuingTrace(null, () => this.drain()).finally(() => {
      this.draining = undefined;
    });
    return this.draining;
  }

  /** Asks for a drain soon, without waiting for it (called after a commit that wrote messages). */
  kick(): void {
    this.deliverPending().catch((error: unknown) =>
      this.log.error({ err: error }, 'outbox relay failed'),
    );
  }

  /**
   * Polls for messages other processes wrote, and retries failed ones when their backoff ends
   * (delivered ones are pruned by adapters/retention.ts).
   */
  start(pollMs: number): void {
    this.timer ??= setInterval(() => this.kick(), pollMs);
    this.timer.unref();
  }

  /** Stops polling; the drain in progress ends after the batch in hand. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.draining?.catch(() => undefined);
  }

  private async drain(): Promise<number> {
    let delivered = 0;
    for (let first = true; (first || this.again) && !this.stopped; first = false) {
      if (!first) await sleep(this.options.batchWindowMs);
      this.again = false;
      while (!this.stopped) {
        let progress = 0;
        const handed = await this.outbox.deliverPending(
          this.options.batchSize,
          async (batch, lead) => {
            const report = await this.deliver(batch, lead ?? (() => true));
            progress = report.delivered.length;
            return report;
          },
        );
        delivered += progress;
        if (handed < this.options.batchSize || progress === 0) break;
      }
    }
    return delivered;
  }

  /**
   * Products and handlers are delivered concurrently, so a drain's publishes share a round
   * trip; the messages of one product and handler go to it together, in commit order. If they
   * fail together, they are tried one by one, so one bad message holds back only those after it
   * (until it becomes a dead letter, which holds back nothing). Nothing more is sent once the
   * lease may be another relay's: what is left stays due, for the new leader, in order.
   */
  private async deliver(
    messages: PendingMessage[],
    stillLeading: () => boolean,
  ): Promise<DeliveryReport> {
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
