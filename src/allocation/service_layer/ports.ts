// The ports of the service layer other than the unit of work (unit_of_work.ts): what handlers,
// the bus and the relay need from the outside world. Adapters implement them; unit tests fake them.
import type { Event } from '../domain/events';
import type { Cause } from './history';

/** The logging the service layer needs; pino's logger fits it. */
export interface Logger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** What the bus reports for monitoring (Prometheus in production). */
export interface Metrics {
  handled(messageType: string, outcome: 'ok' | 'error'): void;
  retried(messageType: string): void;
  delivered(messageType: string, outcome: 'ok' | 'error'): void;
  /** A handler's circuit opened (its transport unreachable) or closed again. */
  circuitOpen(handler: string, open: boolean): void;
}

export const NO_METRICS: Metrics = {
  handled: () => undefined,
  retried: () => undefined,
  delivered: () => undefined,
  circuitOpen: () => undefined,
};

export interface Notifications {
  send(destination: string, message: string): Promise<void>;
}

/** Sends an event to a channel of the outside world (Redis in production). */
export type Publish = (channel: string, event: Event, meta: MessageMeta) => Promise<void>;

/** An outbox row: one event for one of its handlers. */
export interface PendingMessage {
  id: string;
  /** The aggregate (sku) the event belongs to: delivery keeps commit order per key. */
  key: string;
  event: Event;
  /** The name of the handler this row is for (EVENT_HANDLERS). */
  handler: string;
  attempts: number;
  correlationId: string | null;
  /** When the change that wrote it committed. */
  occurredAt: Date;
  /** W3C trace context of the span that wrote it (null when tracing was off). */
  traceparent: string | null;
  /** What started the change that wrote it (null on rows written before history). */
  cause?: Cause | null;
}

export interface DeliveryReport {
  delivered: string[];
  failed: { id: string; error: string; retryInMs: number }[];
  /** Given up on (failed permanently, or too often): moved to the dead letters. */
  dead: { id: string; error: string }[];
}

export interface Outbox {
  /**
   * Hands up to `limit` due messages, oldest first, to `deliver` and records its report, while
   * holding the relay lease that keeps other relays from delivering at the same time. A message
   * whose product has an earlier one for the same handler still backing off is not handed over
   * yet. Returns how many messages were handed over (0 when another relay holds the lease).
   * Messages reported dead leave the outbox for the dead letters, so they hold back nothing.
   * `stillLeading` turns false once the lease may have passed to another relay: `deliver` sends
   * nothing more, and the report of a drain whose lease was lost is not recorded (its messages
   * stay due, for the new leader). Messages of the handlers in `skip` (paused, or behind an
   * open circuit) are not handed over: they wait, and do not fill the batch. `holdLease`: keep
   * leading even when nothing was handed (a circuit is open, its backlog waits for a probe).
   */
  deliverPending(
    limit: number,
    deliver: (messages: PendingMessage[], stillLeading?: () => boolean) => Promise<DeliveryReport>,
    skip?: readonly string[],
    holdLease?: boolean,
  ): Promise<number>;
  /** Undelivered messages and the age of the oldest, for monitoring. */
  backlog(): Promise<{ count: number; oldestAgeSeconds: number }>;
}

export interface MessageMeta {
  messageId: string;
  correlationId: string | null;
  occurredAt: Date;
  /** W3C trace context of the delivery, when tracing is on. */
  traceparent?: string;
  /** The cause of the change that raised the event (its handlers' commits carry it on). */
  cause?: Cause | null;
}
