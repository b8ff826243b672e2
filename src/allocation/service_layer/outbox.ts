// Port and relay for messages that leave the service. The unit of work writes them to the
// outbox in the transaction that raised them; the relay delivers them after commit, so nothing
// is sent for a rolled-back change and nothing committed is lost when Redis or SMTP is down.
import type { Event } from '../domain/events';
import type { Logger } from './messagebus';

export interface PendingMessage {
  id: string;
  /** The aggregate (sku) the event belongs to: delivery keeps commit order per key. */
  key: string;
  event: Event;
  attempts: number;
  /** False while an earlier failure's backoff has not elapsed. */
  due: boolean;
  correlationId: string | null;
}

export interface DeliveryReport {
  delivered: string[];
  failed: { id: string; error: string; retryInMs: number }[];
}

export interface Outbox {
  /**
   * Hands up to `limit` undelivered messages, oldest first, to `deliver` and records its report,
   * while holding a lock that keeps other relays from delivering at the same time.
   * Returns how many messages were handed over (0 when another relay holds the lock).
   */
  deliverPending(
    limit: number,
    deliver: (messages: PendingMessage[]) => Promise<DeliveryReport>,
  ): Promise<number>;
  /** Deletes delivered messages older than `olderThanMs`; returns how many. */
  prune(olderThanMs: number): Promise<number>;
}

export interface MessageMeta {
  messageId: string;
  correlationId: string | null;
}

export type OutboxHandler = (event: Event, meta: MessageMeta) => Promise<void>;
type EventClass = abstract new (...args: never[]) => Event;

export interface RelayOptions {
  batchSize: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

/** Capped exponential backoff with full jitter. */
export function backoffMs(attempt: number, baseMs: number, capMs: number): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

export class OutboxRelay {
  private draining: Promise<number> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly outbox: Outbox,
    private readonly handlers: ReadonlyMap<EventClass, OutboxHandler>,
    private readonly log: Logger,
    private readonly options: RelayOptions = {
      batchSize: 100,
      baseDelayMs: 200,
      maxDelayMs: 30_000,
    },
  ) {}

  /** Delivers everything that is due; concurrent calls share one drain. */
  deliverPending(): Promise<number> {
    if (this.draining) {
      this.again = true;
      return this.draining;
    }
    this.draining = this.drain().finally(() => {
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

  /** Polls for messages other processes wrote, and retries failed ones when their backoff ends. */
  start(pollMs: number): void {
    this.timer ??= setInterval(() => this.kick(), pollMs);
    this.timer.unref();
  }

  /** Stops polling and lets the current drain finish. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.draining?.catch(() => undefined);
  }

  private async drain(): Promise<number> {
    let delivered = 0;
    do {
      this.again = false;
      for (;;) {
        let progress = 0;
        const handed = await this.outbox.deliverPending(this.options.batchSize, async (batch) => {
          const report = await this.deliver(batch);
          progress = report.delivered.length;
          return report;
        });
        delivered += progress;
        if (handed < this.options.batchSize || progress === 0) break;
      }
    } while (this.again);
    return delivered;
  }

  private async deliver(messages: PendingMessage[]): Promise<DeliveryReport> {
    const report: DeliveryReport = { delivered: [], failed: [] };
    const blockedKeys = new Set<string>(); // a key whose earlier message waits keeps its order
    for (const message of messages) {
      if (blockedKeys.has(message.key) || !message.due) {
        blockedKeys.add(message.key);
        continue;
      }
      const handler = this.handlers.get(message.event.constructor as EventClass);
      try {
        if (handler)
          await handler(message.event, {
            messageId: message.id,
            correlationId: message.correlationId,
          });
        report.delivered.push(message.id);
      } catch (error) {
        blockedKeys.add(message.key);
        const retryInMs = backoffMs(
          message.attempts,
          this.options.baseDelayMs,
          this.options.maxDelayMs,
        );
        this.log.warn(
          { err: error, messageId: message.id, attempts: message.attempts + 1, retryInMs },
          'outbox delivery failed; will retry',
        );
        report.failed.push({ id: message.id, error: String(error), retryInMs });
      }
    }
    return report;
  }
}
