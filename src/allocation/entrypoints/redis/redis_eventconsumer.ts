import type { RedisClient } from '../../adapters/redis/redis_connections';
import type { DeadLetters } from '../../adapters/postgres/dead_letter_store';
import type { PubsubQueueGauges } from '../../adapters/prometheus/metrics';
import type { MessageBus } from '../../service_layer/messagebus';
import type { Logger } from '../../service_layer/ports';
import { ChangeBatchQuantityInbound } from './inbound';
import { setAside } from './set_aside';
import { BoundedQueue, received, type QueueLimits, type Received } from './pubsub_queue';
import type { PubsubSpill, SpilledEntry } from './pubsub_spill';
import { PubsubSpillDrain } from './pubsub_spill_drain';
import { WakeablePause } from './wakeable_pause';
import { InboundPause, PAUSED_POLL_MS } from './inbound_pause';

export const CHANGE_BATCH_QUANTITY = 'change_batch_quantity';

export interface PubsubConsumerOptions extends QueueLimits {
  /** The longest a message stays in this process's memory, from its arrival. */
  maxWaitMs: number;
  /** Whether an operator paused inbound deliveries (GET /deliveries); asked before each message. */
  paused?: () => Promise<boolean>;
}

/**
 * Subscribes to the `change_batch_quantity` channel (SPEC section 4). Messages are handled one
 * at a time, in arrival order, so a later quantity for a batch wins. A bad message is set aside
 * with its reason and the consumer goes on; ioredis reconnects and resubscribes by itself.
 * Pub/sub delivers every message to every subscriber: run one of these per deployment, or use
 * the stream consumer to scale out.
 *
 * Pub/sub cannot be told to slow down, and no wait may be unbounded (SPEC section 10), so while
 * PostgreSQL is down or slower than the publishers, what arrives must go somewhere other than
 * memory, without being lost. Received messages wait in a queue bounded in messages and bytes;
 * one that does not fit, or the oldest once it has waited `maxWaitMs`, sends the consumer into
 * spill mode: the queue moves, in order, to a Redis stream (pubsub_spill.ts), and every new
 * message is appended behind it until the stream has been handled to the end. Order holds
 * because the queue is always older than the spill: memory is used only while the spill is
 * empty, and is emptied into it (oldest first) before anything else is appended. A message
 * being handled when the spill starts is appended first too; if its handling commits after all,
 * its copy applies the same quantity again right after it, which changes nothing (and one
 * with a message id is skipped by the inbox).
 */
export class RedisEventConsumer {
  private stopping = false;
  private spilling = true; // on start: first finish what a previous process spilled
  private readonly queue: BoundedQueue;
  private readonly inbound: ChangeBatchQuantityInbound;
  /** The message in hand, and whether its copy is already in the spill. */
  private current: { item: Received; spilled: boolean } | undefined;
  /** The message in hand is given up (deferred) on a transient failure after this. */
  private waitUntil = Infinity;
  private readonly idle = new WakeablePause();
  private loop: Promise<void> | undefined;
  private readonly spillDrain: PubsubSpillDrain;
  private readonly operatorPause: InboundPause;
  private spillAge = 0;

  constructor(
    private readonly subscriber: RedisClient,
    bus: MessageBus,
    private readonly deadLetters: DeadLetters,
    private readonly log: Logger,
    private readonly spill: PubsubSpill,
    private readonly options: PubsubConsumerOptions,
  ) {
    this.queue = new BoundedQueue(options);
    this.operatorPause = new InboundPause(options.paused, log, 'the spill stream');
    this.inbound = new ChangeBatchQuantityInbound(bus, log, () => this.giveUp());
    this.spillDrain = new PubsubSpillDrain(
      spill,
      async (entry) =>
        !this.stopping && !(await this.isPaused()) && (await this.handleSpilled(entry)),
      () => {
        this.spilling = false;
        this.log.info({}, 'pub/sub spill handled; back to memory');
      },
    );
  }

  async start(): Promise<void> {
    // As bytes: a message over the size limit is never decoded into a string (only 'message'
    // listeners make ioredis decode).
    this.subscriber.on('messageBuffer', (channel: Buffer, payload: Buffer) => {
      if (channel.toString() === CHANGE_BATCH_QUANTITY) this.receive(received(payload));
    });
    await this.subscriber.subscribe(CHANGE_BATCH_QUANTITY);
    this.log.info({ channel: CHANGE_BATCH_QUANTITY }, 'consumer subscribed');
    this.loop = this.run();
  }

  /**
   * Stops taking messages and finishes the one in hand; what waits in memory goes to the spill,
   * which the next start handles first.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.subscriber.unsubscribe().catch(() => undefined);
    this.idle.wake();
    await this.loop;
  }

  stats(): PubsubQueueGauges {
    return {
      ...this.queue.stats(),
      spilling: this.spilling,
      spilledTotal: this.spill.appendedTotal,
      unwritten: this.spill.unwrittenCount,
    };
  }

  /**
   * Seconds the oldest message not yet applied has waited: in hand, in memory, waiting to be
   * written to the spill, or in it (its last known age while Redis does not answer).
   */
  async lagSeconds(): Promise<number> {
    const inMemory = [
      this.current?.item.arrivedAt,
      this.queue.peek()?.arrivedAt,
      this.spill.oldestUnwrittenArrivedAt,
    ].filter((at) => at !== undefined);
    const memory = inMemory.length > 0 ? (Date.now() - Math.min(...inMemory)) / 1000 : 0;
    if (this.spilling) {
      this.spillAge = await this.spill.oldestAgeSeconds().catch(() => this.spillAge);
    } else this.spillAge = 0;
    return Math.max(memory, this.spillAge);
  }

  private receive(item: Received): void {
    const spilling = this.spilling;
    if (!spilling && !this.stopping && this.queue.offer(item)) {
      this.idle.wake();
      return;
    }
    this.spillEverything();
    this.spill.append([item]);
    if (!spilling) this.idle.wake(); // an idle loop starts draining
  }

  /** From here on, until the spill is handled to its end, messages go to the spill. */
  private spillEverything(): void {
    if (this.current && !this.current.spilled) {
      this.spill.append([this.current.item]);
      this.current.spilled = true;
    }
    const items = this.queue.takeAll();
    this.spill.append(items);
    if (!this.spilling && !this.stopping) {
      this.log.warn({ spilled: items.length }, 'pub/sub consumer spilling to Redis');
    }
    this.spilling = true;
  }

  private giveUp(): boolean {
    return this.stopping || this.current?.spilled === true || Date.now() > this.waitUntil;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      try {
        if (await this.holdWhilePaused()) continue;
        if (!this.spilling) await this.handleNextReceived();
        else if ((await this.spillDrain.drain()) === 'deferred') await this.pause(++failures);
        else failures = 0;
      } catch (error) {
        // Redis refused a read or an acknowledgement: wait a little and go on.
        this.log.warn({ err: error }, 'pub/sub spill failed; retrying');
        if (String(error).includes('NOGROUP')) this.spillDrain.groupLost();
        await this.pause(++failures);
      }
    }
    this.spillEverything();
    await this.spill.flushed();
  }

  private isPaused(): Promise<boolean> {
    return this.operatorPause.now();
  }

  /**
   * Paused by an operator: what waits in memory goes to the spill, and so does everything that
   * arrives, and the spill is not read until resumed; then it is handled in order, as after an
   * outage. Nothing is lost, and a restart meanwhile finds it all in the spill.
   */
  private async holdWhilePaused(): Promise<boolean> {
    if (!(await this.isPaused())) return false;
    if (!this.spilling) this.spillEverything();
    await this.idle.pauseFor(PAUSED_POLL_MS);
    return true;
  }

  private async handleNextReceived(): Promise<void> {
    const next = this.queue.peek();
    if (next === undefined) return this.pause(0);
    if (Date.now() > next.arrivedAt + this.options.maxWaitMs) return this.spillEverything();
    this.queue.shift();
    this.current = { item: next, spilled: false };
    this.waitUntil = next.arrivedAt + this.options.maxWaitMs;
    try {
      // In arrival order, so applied even if superseded; its position is kept for replays.
      const delivery = { position: next.position, force: true };
      const outcome = await this.inbound.process(next.payload, delivery, next.size);
      if (outcome.kind === 'handled') return;
      if (
        outcome.kind !== 'deferred' &&
        (await this.setAside(outcome.payload, outcome.reason, next.position))
      ) {
        return;
      }
      // No fault of the message (or its dead letter could not be stored): tried again from the
      // spill, ahead of everything that arrived after it.
      this.spillEverything();
    } finally {
      this.current = undefined;
    }
  }

  /** False when the entry must stay in the spill, to be tried again (and nothing after it). */
  private async handleSpilled({ id, payload, size, position }: SpilledEntry): Promise<boolean> {
    if (payload === undefined) return true; // deleted already
    this.waitUntil = Date.now() + this.options.maxWaitMs;
    // The entry id is the message id of a message without one: handled twice, it counts once.
    const delivery = { id: `${this.spill.stream}:${id}`, position, force: true };
    const outcome = await this.inbound.process(payload, delivery, size);
    if (outcome.kind === 'handled') return true;
    if (outcome.kind === 'deferred') return false;
    return this.setAside(outcome.payload, outcome.reason, position);
  }

  private setAside(payload: string, reason: string, position?: string): Promise<boolean> {
    return setAside(this.deadLetters, this.log, CHANGE_BATCH_QUANTITY, payload, reason, position);
  }

  /** Waits for a message (attempt 0) or backs off, either way no longer than a stop. */
  private async pause(attempt: number): Promise<void> {
    if (!this.stopping) await this.idle.pause(attempt);
  }
}
