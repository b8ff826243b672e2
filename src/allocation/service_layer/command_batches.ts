// Commands of one kind that arrive for one key (a sku) while a unit of work for that key is in
// flight wait here, and the next unit takes them together, up to `max`, in arrival order: one
// load, the domain deciding each in turn, one commit. A command arriving when no unit of its key
// is in flight starts one at once, alone: a lone client waits for nothing. Each command is
// answered with its own value from the batch handler's results; a failure of the unit (a lost
// version race past its retries, an outage) is every command's of that unit, as it would have
// been each one's on its own: nothing of the unit was written.
//
// Measured (make bench's hot scenario, one sku, c32, fresh database each run, 3 s warm-up + 8 s;
// three alternating rounds on a loaded 2-core machine, 2026-12-07): one unit per allocation
// 54-57/s (p50 515-544 ms; 1.41-1.46 PostgreSQL write transactions, 3.3-4.0 ms service CPU and
// 1.7-1.8 ms PostgreSQL CPU per allocation); batched at most 32 per unit 520-663/s (p50 42-56
// ms; 0.09-0.10 transactions, 0.40-0.52 ms service and 0.15-0.48 ms PostgreSQL CPU). At most
// 8 per unit: 172-389/s; 64: 349-841/s, the same as 32 within the noise (32 clients never
// queue more than 31). Again after merging main (history rows), two alternating rounds: main
// 162-258/s, this 645-1,176/s; bench hotfresh, vacuumed: main 338-356/s, this 1,358-1,512/s.
//
// Every wait has a bound without a timer per command: a command still waiting `waitMs` after it
// arrived, when the next unit is formed, is answered Unavailable (503) instead of joining it;
// so it waits at most `waitMs` and one unit (itself bounded by the sku queue's wait, the
// statement timeout and the bus's retries).
import type { Command } from '../domain/commands';
import type { Event } from '../domain/events';
import { Unavailable } from './errors';
import type { Cause } from './history';
import type { BatchHandler, Chain } from './messagebus';
import type { Metrics } from './ports';
import { continuingTrace, currentTraceparent } from './tracing';
import type { UnitOfWork } from './unit_of_work';

/** Where an event's outbox rows say it came from: its command's chain and trace. */
export interface EventOrigin {
  correlationId: string | null;
  traceparent: string | null;
}

/** The origin of each event of a unit of several commands; undefined: the unit's own. */
export type OriginOf = (event: Event) => EventOrigin | undefined;

/** How commands of one class are batched (handlers.ts, BATCHED_COMMANDS). */
export interface BatchedCommand {
  /** Commands with the same key may share a unit of work (the sku). */
  key: (command: never) => string;
  /** Which command of the batch an event answers, by a field both carry (the order id). */
  commandOf: (event: Event) => string | undefined;
  idOf: (command: never) => string;
  /** At most this many commands per unit of work. */
  max: number;
}

/** What a command's own chain says of it (MessageBus Chain). */
export interface CommandChain {
  correlationId?: string;
  cause?: Cause;
}

export interface Waiting {
  command: Command;
  chain: CommandChain;
  /** The trace of the request that sent it, read when it arrived. */
  traceparent: string | null;
  arrivedAt: number;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** Runs one unit of work for the commands given; one value per command, in their order. */
export type RunBatch = (batch: Waiting[]) => Promise<unknown[]>;

export class CommandBatches {
  /** Per key with a unit in flight: the commands waiting for the next one. */
  private readonly queues = new Map<string, Waiting[]>();

  constructor(
    private readonly definition: BatchedCommand,
    private readonly runBatch: RunBatch,
    private readonly waitMs = 5_000,
  ) {}

  submit(command: Command, chain: CommandChain): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const traceparent = currentTraceparent() ?? null;
      const arrivedAt = performance.now();
      const waiting: Waiting = { command, chain, traceparent, arrivedAt, resolve, reject };
      const key = (this.definition.key as (c: Command) => string)(command);
      const queue = this.queues.get(key);
      if (queue) queue.push(waiting);
      else {
        this.queues.set(key, []);
        void this.drain(key, [waiting]);
      }
    });
  }

  /** The origin of each event of a batch: that of the command it answers, else the first's. */
  originOf(batch: Waiting[]): OriginOf {
    if (batch.length === 1) return () => undefined; // a lone command: the unit's own chain
    const idOf = this.definition.idOf as (c: Command) => string;
    const byId = new Map<string, Waiting>();
    for (const w of [...batch].reverse()) byId.set(idOf(w.command), w);
    return (event) => {
      const id = this.definition.commandOf(event);
      const w = (id !== undefined ? byId.get(id) : undefined) ?? batch[0];
      return { correlationId: w.chain.correlationId ?? null, traceparent: w.traceparent };
    };
  }

  /** Each command's cause by its id, for the history rows of a unit of several commands. */
  causesOf(batch: Waiting[]): Map<string, Cause> {
    const idOf = this.definition.idOf as (c: Command) => string;
    const causes = new Map<string, Cause>();
    for (const w of batch) {
      if (w.chain.cause && !causes.has(idOf(w.command))) causes.set(idOf(w.command), w.chain.cause);
    }
    return causes;
  }

  /** The next unit's commands: up to max of those waiting, none that waited past waitMs. */
  private next(key: string): Waiting[] {
    const queue = this.queues.get(key) as Waiting[];
    const late = performance.now() - this.waitMs;
    while (queue.length > 0 && queue[0].arrivedAt < late) {
      const w = queue.shift() as Waiting;
      w.reject(new Unavailable(`Timed out after ${this.waitMs} ms waiting for ${key}`));
    }
    return queue.splice(0, this.definition.max);
  }

  private async drain(key: string, first: Waiting[]): Promise<void> {
    let batch = first;
    while (batch.length > 0) {
      try {
        const values = await this.runBatch(batch);
        batch.forEach((w, i) => w.resolve(values[i]));
      } catch (error) {
        for (const w of batch) w.reject(error);
      }
      batch = this.next(key);
    }
    this.queues.delete(key);
  }
}

/**
 * The batches of one command class on a bus: each unit runs through `run` (the bus's retrying
 * runner, a lost race retried whole), in the trace of its first command (a later unit runs after
 * that request has left), and counts as one handling per command.
 */
export function batchesOf(
  name: string,
  batched: BatchedCommand & { handler: BatchHandler },
  run: (chain: Chain, fn: (uow: UnitOfWork) => Promise<unknown[]>) => Promise<unknown[]>,
  metrics: Metrics,
  waitMs?: number,
): CommandBatches {
  const handler = batched.handler as (commands: Command[], uow: UnitOfWork) => Promise<unknown[]>;
  const batches: CommandBatches = new CommandBatches(
    batched,
    (batch) => {
      const chain: Chain = {
        ...batch[0].chain,
        lineCauses: batch.length > 1 ? batches.causesOf(batch) : undefined,
        originOf: batches.originOf(batch),
      };
      const commands = batch.map((w) => w.command);
      const counted = (outcome: 'ok' | 'error') => {
        for (let i = 1; i < batch.length; i++) metrics.handled(name, outcome);
      };
      return continuingTrace(batch[0].traceparent, () =>
        run(chain, (uow) => handler(commands, uow)),
      ).then(
        (values) => (counted('ok'), values),
        (error: unknown) => {
          counted('error');
          throw error;
        },
      );
    },
    waitMs,
  );
  return batches;
}
