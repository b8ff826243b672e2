// How the relay (outbox.ts) delivers one batch of the outbox: which messages go together, in
// what order, and what a failure makes of a message (a retry with its backoff, a dead letter,
// or, when the transport is unreachable, nothing: the handler's circuit opens instead).
import type { DeliveryReport, Logger, Metrics, PendingMessage } from './ports';
import { backoffMs } from './backoff';
import type { Circuits } from './circuit_breaker';
import { PartlyDelivered, PermanentDeliveryError, TransportUnreachable } from './errors';
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

/** What one call of a handler did: how many of its messages went out, and how it ended. */
type Attempt =
  | { sent: number; kind: 'ok' }
  | { sent: number; kind: 'unreachable' }
  /** `pinpointed`: the message that failed is the one after those sent. */
  | { sent: number; kind: 'failed'; error: unknown; pinpointed: boolean };

export class OutboxDelivery {
  constructor(
    private readonly deliverTo: Deliver,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    private readonly options: DeliveryRetryOptions,
    private readonly circuits: Circuits,
  ) {}

  /**
   * Products and handlers are delivered concurrently, so a drain's publishes share a round
   * trip; the messages of one product and handler go to it together, in commit order (see
   * deliverInOrder). Nothing more is sent once the lease may be another relay's: what is left
   * stays due, for the new leader, in order.
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
      [...groups.values()].map((group) => this.deliverInOrder(group, report, stillLeading)),
    );
    return report;
  }

  /**
   * One product's messages of one handler, strictly in commit order: together while they
   * succeed; the first that fails stops the sequence (a retry), and none after it is sent
   * before it, so first deliveries never overtake each other. A handler that cannot say which
   * message failed is tried one message at a time from there. A dead letter holds back nothing.
   * While the handler's circuit is open, only its probe (one message) is tried.
   */
  private async deliverInOrder(
    group: PendingMessage[],
    report: DeliveryReport,
    stillLeading: () => boolean,
  ): Promise<void> {
    const { handler } = group[0];
    let together = true;
    for (let next = 0; next < group.length && stillLeading();) {
      const pass = this.circuits.pass(handler);
      if (pass === 'open') return;
      const batch = pass === 'probe' || !together ? [group[next]] : group.slice(next);
      const attempt = await this.attempt(batch, report, pass === 'probe');
      next += attempt.sent;
      if (attempt.kind === 'ok') continue;
      if (attempt.kind === 'unreachable') return;
      if (!attempt.pinpointed) {
        together = false;
        continue;
      }
      if (this.failed(group[next], attempt.error, report) === 'retry') return;
      next += 1;
    }
  }

  /** Runs the handler on `batch`; records what went out, and what the transport's state is. */
  private async attempt(
    batch: PendingMessage[],
    report: DeliveryReport,
    probe: boolean,
  ): Promise<Attempt> {
    const { handler } = batch[0];
    const name = `${batch[0].event.constructor.name}.${handler}`;
    try {
      await inDeliverySpan(name, batch, () => this.deliverTo(handler, batch));
      this.metrics.delivered(name, 'ok');
      report.delivered.push(...batch.map((m) => m.id));
      this.circuits.reachable(handler);
      return { sent: batch.length, kind: 'ok' };
    } catch (thrown) {
      this.metrics.delivered(name, 'error');
      const partly = thrown instanceof PartlyDelivered ? thrown : undefined;
      const sent = partly?.delivered ?? 0;
      const error = partly ? partly.failure : thrown;
      report.delivered.push(...batch.slice(0, sent).map((m) => m.id));
      if (error instanceof TransportUnreachable) {
        this.log.debug(
          { err: error, handler, probe },
          'outbox delivery found its transport unreachable',
        );
        this.circuits.unreachable(handler, error, probe);
        return { sent, kind: 'unreachable' };
      }
      this.circuits.reachable(handler); // it answered: the failure is the message's
      const pinpointed = partly !== undefined || batch.length - sent === 1;
      return { sent, kind: 'failed', error, pinpointed };
    }
  }

  /**
   * Records the failure of one message: a retry with its backoff, or a dead letter once it
   * failed permanently or maxAttempts times.
   */
  private failed(
    message: PendingMessage,
    error: unknown,
    report: DeliveryReport,
  ): 'retry' | 'dead' {
    const { handler } = message;
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
      { err: error, messageId: message.id, handler, attempts, retryInMs, ...chainOf(message) },
      'outbox delivery failed; will retry',
    );
    report.failed.push({ id: message.id, error: String(error), retryInMs });
    return 'retry';
  }
}

/** A log line's correlation id: the chain of the message it is about. */
function chainOf(message: PendingMessage): { correlation_id?: string } {
  return message.correlationId === null ? {} : { correlation_id: message.correlationId };
}
