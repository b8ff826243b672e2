// The message bus: commands to their one handler, now; events to every handler of theirs, in
// one of two places (EVENT_HANDLERS says which). Inline handlers (the read model) run inside the
// commit of the change that raised the event: the unit of work writes what they record with the
// change, or nothing at all (commit_plan.ts). Outbox handlers run after the commit: the unit of
// work writes one outbox row per handler in the same statement as the change, and the relay
// hands those rows back here (handleEvents), retrying a handler until it succeeds, so they run
// even if the process dies right after the commit, each on its own. After each handler the bus
// pulls the events its unit of work committed (collectNewEvents, as in the book) and tells the
// relay when some have outbox handlers, so their rows go out now rather than at its next poll.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from '../domain/commands';
import type { Event } from '../domain/events';
import { backoffMs } from './backoff';
import { ConcurrencyError } from './errors';
import {
  NO_METRICS,
  type Logger,
  type MessageMeta,
  type Metrics,
  type Notifications,
  type Publish,
} from './ports';
import { type InlineHandler, outboxHandlerNames } from './commit_plan';
import {
  type BatchedCommand,
  batchesOf,
  type CommandBatches,
  type OriginOf,
} from './command_batches';
import type { Cause } from './history';
import { inHandlerSpan } from './tracing';
import type { UnitOfWork } from './unit_of_work';

/** What event handlers may use; each takes what it needs. */
export interface HandlerDeps {
  uow: UnitOfWork;
  publish: Publish;
  notifications: Notifications;
  stockEmail: string;
}

/** An event as the relay delivers it, with the identity of its outbox row. */
export interface Delivery<E extends Event = Event> {
  event: E;
  meta: MessageMeta;
}

// `never` parameters let one table hold handlers of different message types; the bus looks
// each one up by the message's class, so the pairing is right by construction.
export type CommandHandler = (command: never, uow: UnitOfWork) => Promise<unknown>;
/** Takes the deliveries of one product and handler, in commit order (one or many at once). */
export type EventHandler = (deliveries: never[], deps: HandlerDeps) => Promise<void>;
/** Takes the commands of one batch (command_batches.ts); returns one value per command. */
export type BatchHandler = (commands: never[], uow: UnitOfWork) => Promise<unknown[]>;
/** An event's handlers: those that run in its commit, and those the outbox runs after it. */
export interface EventHandlers {
  inline: readonly InlineHandler[];
  /** By name: the name is stored on the event's outbox rows. */
  outbox: Readonly<Record<string, EventHandler>>;
}
type MessageClass = abstract new (...args: never[]) => Command | Event;
type AnyCommandHandler = (command: Command, uow: UnitOfWork) => Promise<unknown>;
type AnyEventHandler = (deliveries: Delivery[], deps: HandlerDeps) => Promise<void>;

export interface RetryPolicy {
  /** Attempts per handler when it loses an optimistic-concurrency race. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

/**
 * The causal chain a message belongs to, passed along explicitly: the HTTP request's id, the
 * inbound message's, or the delivered event's. An AsyncLocalStorage carried it before; with one
 * enabled, Node 20 runs promise hooks on every promise of the process, which cost 12-17% of
 * the service CPU of a read, 2-7% of a /healthz (BENCHMARKS.md, "What each change bought").
 */
export interface Chain {
  correlationId?: string;
  /** What started the chain, written with the history it causes (service_layer/history.ts). */
  cause?: Cause;
  /** For a delivery of freed lines: the cause of each line's deallocation, by order id. */
  lineCauses?: ReadonlyMap<string, Cause>;
  /** In a unit of several commands, each event's own chain and trace (command_batches.ts). */
  originOf?: OriginOf;
}

export interface MessageBusOptions {
  /** A fresh unit of work; what it commits names the chain (outbox rows' correlation id). */
  startUow: (chain: Chain) => UnitOfWork;
  commandHandlers: ReadonlyMap<MessageClass, CommandHandler>;
  /** Commands applied together per key while a unit of their key is in flight. */
  batchedCommands?: ReadonlyMap<MessageClass, BatchedCommand & { handler: BatchHandler }>;
  /** How long a batched command may wait for its unit before it fails as Unavailable. */
  batchWaitMs?: number;
  /** Per event class, its handlers by name; the name is stored on the event's outbox rows. */
  eventHandlers: ReadonlyMap<MessageClass, EventHandlers>;
  deps: Omit<HandlerDeps, 'uow'>;
  log: Logger;
  metrics?: Metrics;
  retry?: RetryPolicy;
  /** Told when a handler committed events that have outbox handlers (the relay delivers them). */
  outboxWritten?: () => void;
  /** Told the events of every handler's commits (metrics that count what was committed). */
  committed?: (events: readonly Event[]) => void;
}

export class MessageBus {
  private readonly retry: RetryPolicy;
  private readonly metrics: Metrics;
  private readonly batches = new Map<MessageClass, CommandBatches>();

  constructor(private readonly options: MessageBusOptions) {
    this.retry = options.retry ?? { attempts: 12, baseDelayMs: 2, maxDelayMs: 100 };
    this.metrics = options.metrics ?? NO_METRICS;
    for (const [type, batched] of options.batchedCommands ?? []) {
      const run = (chain: Chain, fn: (uow: UnitOfWork) => Promise<unknown[]>) =>
        this.withRetry(type.name, chain, fn);
      this.batches.set(type, batchesOf(type.name, batched, run, this.metrics, options.batchWaitMs));
    }
  }

  /** Handles a command; what its handler returns, or throws, reaches the caller. */
  async handle(command: Command, chain: Chain = {}): Promise<unknown> {
    const batches = this.batches.get(command.constructor as MessageClass);
    if (batches) return batches.submit(command, chain);
    const handler = this.options.commandHandlers.get(command.constructor as MessageClass);
    if (!handler) throw new Error(`No handler for command ${command.constructor.name}`);
    return this.withRetry(command.constructor.name, chain, (uow) =>
      (handler as AnyCommandHandler)(command, uow),
    );
  }

  /** Runs handler `name` on deliveries of one event type; throws so the relay retries. */
  async handleEvents(name: string, deliveries: Delivery[]): Promise<void> {
    const type = deliveries[0].event.constructor as MessageClass;
    const handler = this.options.eventHandlers.get(type)?.outbox[name];
    if (!handler) throw new Error(`No handler ${name} for event ${type.name}`);
    // a delivery continues the chain of its first event (the relay groups them that way)
    const chain = {
      correlationId: deliveries[0].meta.correlationId ?? undefined,
      cause: deliveries[0].meta.cause ?? undefined,
      lineCauses: causesByOrder(deliveries),
    };
    await this.withRetry(`${type.name}.${name}`, chain, (uow) =>
      (handler as AnyEventHandler)(deliveries, { ...this.options.deps, uow }),
    );
  }

  /** Runs `fn` in a fresh unit of work, again if it loses a version race. */
  private async withRetry<T>(
    name: string,
    chain: Chain,
    fn: (uow: UnitOfWork) => Promise<T>,
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await inHandlerSpan(name, () => this.inFreshUow(chain, fn));
        this.metrics.handled(name, 'ok');
        return result;
      } catch (error) {
        // Losing a race is not the sender's problem: reload and retry, a bounded number of
        // times, with jitter so the racers spread out.
        if (!(error instanceof ConcurrencyError) || attempt >= this.retry.attempts) {
          this.metrics.handled(name, 'error');
          throw error;
        }
        const delay = backoffMs(attempt, this.retry.baseDelayMs, this.retry.maxDelayMs);
        this.metrics.retried(name);
        this.options.log.debug(
          { message: name, attempt, delay, correlation_id: chain.correlationId },
          'retrying conflict',
        );
        await sleep(delay);
      }
    }
  }

  /** Runs `fn`, then pulls what its unit of work committed, even if `fn` failed afterwards. */
  private async inFreshUow<T>(chain: Chain, fn: (uow: UnitOfWork) => Promise<T>): Promise<T> {
    const uow = this.options.startUow(chain);
    try {
      return await fn(uow);
    } finally {
      const table = this.options.eventHandlers;
      const events = uow.collectNewEvents();
      if (events.length > 0) this.options.committed?.(events);
      if (events.some((event) => outboxHandlerNames(table, event).length > 0)) {
        this.options.outboxWritten?.();
      }
    }
  }
}

/** Each delivered line's cause, by order id (deliveries of line events of one product). */
function causesByOrder(deliveries: Delivery[]): Map<string, Cause> {
  const causes = new Map<string, Cause>();
  for (const { event, meta } of deliveries) {
    if (meta.cause && 'orderid' in event && event.orderid !== null) {
      causes.set(event.orderid, meta.cause);
    }
  }
  return causes;
}
