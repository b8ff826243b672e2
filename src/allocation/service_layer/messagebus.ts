import type { Command } from '../domain/commands';
import type { Event } from '../domain/events';
import type { UnitOfWork } from './unit_of_work';
import { backoffMs } from './backoff';
import { ConcurrencyError } from './errors';
import { NO_METRICS, type Logger, type Metrics } from './ports';

export type Message = Command | Event;

// `never` parameters let tables hold handlers of different message types; the bus looks each
// one up by the message's constructor, so the pairing is right by construction.
export type CommandHandler = (command: never, uow: UnitOfWork) => Promise<unknown>;
export type EventHandler = (event: never, uow: UnitOfWork) => Promise<void>;
type MessageClass = abstract new (...args: never[]) => Message;
type AnyHandler = (message: Message, uow: UnitOfWork) => Promise<unknown>;

export interface RetryPolicy {
  /** Attempts per handler when it loses an optimistic-concurrency race. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export interface MessageBusOptions {
  startUow: () => UnitOfWork;
  commandHandlers: ReadonlyMap<MessageClass, CommandHandler>;
  eventHandlers: ReadonlyMap<MessageClass, readonly EventHandler[]>;
  log: Logger;
  metrics?: Metrics;
  retry?: RetryPolicy;
  /** Events that leave through the outbox, and what to do after a commit wrote some. */
  outbox?: { has(type: MessageClass): boolean; written(): void };
  /** Events whose handlers must survive a crash: handled from the outbox, not in-process. */
  durable?: ReadonlySet<MessageClass>;
}

export class MessageBus {
  private readonly startUow: () => UnitOfWork;
  private readonly commandHandlers: ReadonlyMap<MessageClass, CommandHandler>;
  private readonly eventHandlers: ReadonlyMap<MessageClass, readonly EventHandler[]>;
  private readonly log: Logger;
  private readonly metrics: Metrics;
  private readonly retry: RetryPolicy;
  private readonly outboxed: { has(type: MessageClass): boolean; written(): void };
  private readonly durable: ReadonlySet<MessageClass>;

  constructor(options: MessageBusOptions) {
    this.startUow = options.startUow;
    this.commandHandlers = options.commandHandlers;
    this.eventHandlers = options.eventHandlers;
    this.log = options.log;
    this.metrics = options.metrics ?? NO_METRICS;
    this.retry = options.retry ?? { attempts: 12, baseDelayMs: 2, maxDelayMs: 100 };
    this.outboxed = options.outbox ?? { has: () => false, written: () => undefined };
    this.durable = options.durable ?? new Set();
  }

  /**
   * Handles a message, then every event it raised, in order, each handler in its own unit of
   * work. Returns what the first command's handler returned; its errors reach the caller.
   * Events bound for the outbox to be handled durably are not queued here: the relay hands
   * them back through handleDelivered once they are committed.
   */
  async handle(message: Message): Promise<unknown> {
    return this.process(message);
  }

  /**
   * Handles an event the relay delivered from the outbox. Unlike handle(), a failed handler
   * makes it throw once all have run, so the relay tries the event again later; such handlers
   * are idempotent for that reason.
   */
  async handleDelivered(event: Event): Promise<void> {
    const failures: unknown[] = [];
    await this.process(event, failures);
    if (failures.length > 0) throw failures[0];
  }

  private async process(message: Message, failures?: unknown[]): Promise<unknown> {
    const queue: Message[] = [message];
    let result: unknown;
    let first = true;
    let wroteOutbox = false;
    while (queue.length > 0) {
      const next = queue.shift() as Message;
      const raised = this.isCommand(next)
        ? await this.handleCommand(next)
        : await this.handleEvent(next, failures);
      if (first) result = raised.result;
      first = false;
      wroteOutbox ||= raised.events.some((e) => this.outboxed.has(e.constructor as MessageClass));
      queue.push(...raised.events.filter((e) => !this.durable.has(e.constructor as MessageClass)));
    }
    if (wroteOutbox) this.outboxed.written();
    return result;
  }

  private isCommand(message: Message): message is Command {
    return this.commandHandlers.has(message.constructor as MessageClass);
  }

  private async handleCommand(command: Command): Promise<{ result: unknown; events: Event[] }> {
    const handler = this.commandHandlers.get(command.constructor as MessageClass);
    return this.runWithRetry(handler as AnyHandler, command);
  }

  private async handleEvent(
    event: Event,
    failures?: unknown[],
  ): Promise<{ result: undefined; events: Event[] }> {
    const events: Event[] = [];
    for (const handler of this.eventHandlers.get(event.constructor as MessageClass) ?? []) {
      try {
        events.push(...(await this.runWithRetry(handler as AnyHandler, event)).events);
      } catch (error) {
        // One failed side effect must not block the others.
        failures?.push(error);
        this.log.error(
          { err: error, event: event.constructor.name, handler: handler.name },
          'event handler failed',
        );
      }
    }
    return { result: undefined, events };
  }

  /** Runs a handler in a fresh unit of work, again if it loses a version race. */
  private async runWithRetry(
    handler: AnyHandler,
    message: Message,
  ): Promise<{ result: unknown; events: Event[] }> {
    const type = message.constructor.name;
    for (let attempt = 1; ; attempt++) {
      const uow = this.startUow();
      try {
        const result = await handler(message, uow);
        this.metrics.handled(type, 'ok');
        return { result, events: uow.collectNewEvents() };
      } catch (error) {
        // Losing a race is not the sender's problem: reload and retry, a bounded number of
        // times, with jitter so the racers spread out.
        if (!(error instanceof ConcurrencyError) || attempt >= this.retry.attempts) {
          this.metrics.handled(type, 'error');
          throw error;
        }
        const delay = backoffMs(attempt, this.retry.baseDelayMs, this.retry.maxDelayMs);
        this.metrics.retried(type);
        this.log.debug({ message: type, attempt, delay }, 'retrying conflict');
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }
}
