import type { PubsubQueueGauges } from '../../adapters/prometheus/pubsub_gauges';
import type { Logger } from '../../service_layer/ports';
import { BoundedQueue, type QueueLimits, type Received } from './pubsub_queue';
import type { PubsubSpill } from './pubsub_spill';

/**
 * Where the pub/sub consumer's messages wait for their turn: in memory (a bounded queue) while
 * the spill is empty, else in the spill stream, behind what is already there. The queue is
 * always older than the spill: it is emptied into it (oldest first) before anything else is
 * appended, and used again only once the spill has been handled to its end (backToMemory).
 */
export class PubsubIntake {
  spilling = true; // on start: first finish what a previous process spilled
  /** The message in hand, and whether its copy is already in the spill. */
  current: { item: Received; spilled: boolean } | undefined;
  readonly queue: BoundedQueue;
  private spillAge = 0;

  constructor(
    private readonly spill: PubsubSpill,
    limits: QueueLimits,
    private readonly log: Logger,
    /** While stopping, nothing more goes to memory, and spilling is not worth a warning. */
    private readonly stopping: () => boolean,
  ) {
    this.queue = new BoundedQueue(limits);
  }

  /** Queues or spills a message; true when the consumer's loop has something new to do. */
  receive(item: Received): boolean {
    const spilling = this.spilling;
    if (!spilling && !this.stopping() && this.queue.offer(item)) return true;
    this.spillEverything();
    this.spill.append([item]);
    return !spilling; // an idle loop starts draining
  }

  /** From here on, until the spill is handled to its end, messages go to the spill. */
  spillEverything(): void {
    if (this.current && !this.current.spilled) {
      this.spill.append([this.current.item]);
      this.current.spilled = true;
    }
    const items = this.queue.takeAll();
    this.spill.append(items);
    if (!this.spilling && !this.stopping()) {
      this.log.warn({ spilled: items.length }, 'pub/sub consumer spilling to Redis');
    }
    this.spilling = true;
  }

  /** The spill was handled to its end: messages wait in memory again. */
  backToMemory(): void {
    this.spilling = false;
    this.log.info({}, 'pub/sub spill handled; back to memory');
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
}
