import { setTimeout as sleep } from 'node:timers/promises';
import type { RedisClient } from '../../adapters/redis/redis_connections';
import type { DeadLetters } from '../../adapters/postgres/dead_letter_store';
import type { MessageBus } from '../../service_layer/messagebus';
import type { Logger } from '../../service_layer/ports';
import { ChangeBatchQuantityInbound } from './inbound';
import { CHANGE_BATCH_QUANTITY } from './redis_eventconsumer';
import { setAside } from './set_aside';
import { backoffMs } from '../../service_layer/backoff';
import { field, fieldNames } from './stream_fields';
import { InboundPause, PAUSED_POLL_MS } from './inbound_pause';
import { sortablePosition } from './positions';

export { sortablePosition };

export interface StreamConsumerOptions {
  group: string;
  name: string;
  /** A message pending this long with a consumer (crashed, or its handler failed) is claimed. */
  claimIdleMs: number;
  /** After this many deliveries a failing message goes to the dead-letter store. */
  maxDeliveries: number;
  /** Whether an operator paused inbound deliveries (GET /deliveries); asked before each entry. */
  paused?: () => Promise<boolean>;
}

/** Fields come as bytes, so a payload over the size limit is never decoded into a string. */
type Entry = [id: Buffer, fields: Buffer[]];

const BLOCK_MS = 1_000;

/**
 * Competing consumers on the `change_batch_quantity` stream: each entry goes to one consumer
 * of the group, which acknowledges it only after its handler committed. Entries left pending by
 * a crashed consumer are claimed by a live one; the entry id doubles as the message id, so an
 * entry handled but not acknowledged before a crash has no second effect (inbox).
 */
export class RedisStreamConsumer {
  private stopping = false;
  private loop: Promise<void> | undefined;
  private readonly inbound: ChangeBatchQuantityInbound;
  private lastClaim = 0;
  /** Entries read but not handled because a pause came meanwhile: handled first on resume. */
  private held: Entry[] = [];
  private readonly operatorPause: InboundPause;

  constructor(
    /** A connection of its own: XREADGROUP blocks it. */
    private readonly redis: RedisClient,
    bus: MessageBus,
    private readonly deadLetters: DeadLetters,
    private readonly log: Logger,
    private readonly options: StreamConsumerOptions,
    private readonly stream = CHANGE_BATCH_QUANTITY,
  ) {
    this.inbound = new ChangeBatchQuantityInbound(bus, log, () => this.stopping);
    this.operatorPause = new InboundPause(options.paused, log, 'the stream');
  }

  async start(): Promise<void> {
    await this.createGroup();
    this.log.info({ stream: this.stream, ...this.options }, 'stream consumer started');
    this.loop = this.run();
  }

  /** Creates the stream and group if missing (again, after a Redis that restarted empty). */
  private async createGroup(): Promise<void> {
    try {
      // From the stream's start: entries added before the group existed are not lost.
      await this.redis.xgroup('CREATE', this.stream, this.options.group, '0', 'MKSTREAM');
    } catch (error) {
      if (!String(error).includes('BUSYGROUP')) throw error;
    }
  }

  /** Stops reading (within one block interval) and finishes the entry in hand. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.loop;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      try {
        // Paused: nothing is read (nor claimed); entries wait in the stream, in order.
        if (await this.isPaused()) {
          await sleep(PAUSED_POLL_MS);
          continue;
        }
        await this.claimStale();
        const entries = this.held.length > 0 ? this.held.splice(0) : await this.readNew();
        for (const [i, entry] of entries.entries()) {
          if (await this.isPaused()) {
            await this.hold(entries.slice(i));
            break;
          }
          await this.handle(entry, 1);
        }
        failures = 0;
      } catch (error) {
        // Redis down or restarting: ioredis reconnects; wait a little and read again.
        failures += 1;
        if (String(error).includes('NOGROUP')) await this.createGroup().catch(() => undefined);
        this.log.warn({ err: error }, 'stream read failed; retrying');
        await sleep(backoffMs(failures, 100, 5_000));
      }
    }
  }

  /**
   * Keeps entries read just before a pause, to handle first on resume. They are pending with
   * this consumer; marked idle as long as claimIdleMs, so if this process stops (or dies) while
   * paused, the consumer that resumes claims them at once, before reading anything newer.
   */
  private async hold(entries: Entry[]): Promise<void> {
    this.held = entries;
    const ids = entries.map(([id]) => id.toString());
    // JUSTID: not counted as a delivery (maxDeliveries); typed by ioredis only in full form.
    const { group, name, claimIdleMs } = this.options;
    await this.redis.call('XCLAIM', [
      this.stream,
      group,
      name,
      0,
      ...ids,
      'IDLE',
      claimIdleMs,
      'JUSTID',
    ]);
  }

  private isPaused = (): Promise<boolean> => this.operatorPause.now();

  private async readNew(): Promise<Entry[]> {
    const reply = (await this.redis.xreadgroupBuffer(
      'GROUP',
      this.options.group,
      this.options.name,
      'COUNT',
      20,
      'BLOCK',
      BLOCK_MS,
      'STREAMS',
      this.stream,
      '>',
    )) as [Buffer, Entry[]][] | null;
    return reply?.[0]?.[1] ?? [];
  }

  /** Takes over entries idle too long with any consumer, this one included (failed earlier). */
  private async claimStale(): Promise<void> {
    const now = Date.now();
    if (now - this.lastClaim < Math.min(this.options.claimIdleMs, 5_000)) return;
    this.lastClaim = now;
    // ioredis has no typing of xautoclaimBuffer: the same command through callBuffer.
    const [, entries] = (await this.redis.callBuffer('XAUTOCLAIM', [
      this.stream,
      this.options.group,
      this.options.name,
      this.options.claimIdleMs,
      '0-0',
      'COUNT',
      50,
    ])) as [Buffer, Entry[], Buffer[]];
    if (entries.length === 0) return;
    const deliveries = await this.deliveryCounts(entries.map(([id]) => id.toString()));
    for (const entry of entries) {
      await this.handle(entry, deliveries.get(entry[0].toString()) ?? 1);
    }
  }

  /** How many times each entry was delivered, asked entry by entry (one round trip). */
  private async deliveryCounts(ids: string[]): Promise<Map<string, number>> {
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.xpending(this.stream, this.options.group, id, id, 1);
    const replies = (await pipeline.exec()) ?? [];
    const counts = new Map<string, number>();
    for (const [error, reply] of replies) {
      const [entry] = (error ? [] : reply) as [string, string, number, number][];
      if (entry) counts.set(entry[0], entry[3]);
    }
    return counts;
  }

  private async handle([rawId, fields]: Entry, deliveries: number): Promise<void> {
    const id = rawId.toString();
    const payload = field(fields, 'payload');
    if (payload === undefined) {
      return this.setAsideAndAck(id, fieldNames(fields), 'no payload field');
    }
    const position = sortablePosition(id);
    const outcome = await this.inbound.process(payload, { id: `${this.stream}:${id}`, position });
    if (outcome.kind === 'handled') {
      await this.redis.xack(this.stream, this.options.group, id);
    } else if (outcome.kind === 'deferred') {
      // Only while stopping: left pending, to be claimed once idle (no fault of the entry).
      this.log.warn({ id, reason: outcome.reason }, 'stream entry not handled; left pending');
    } else if (outcome.kind === 'invalid' || deliveries >= this.options.maxDeliveries) {
      const reason =
        outcome.kind === 'invalid'
          ? outcome.reason
          : `${outcome.reason} (after ${deliveries} deliveries)`;
      await this.setAsideAndAck(id, outcome.payload, reason, position);
    } else {
      // Left pending: claimed again once idle for claimIdleMs, up to maxDeliveries times.
      this.log.warn({ id, deliveries, reason: outcome.reason }, 'stream entry failed; will retry');
    }
  }

  /** Acknowledged only once stored: else it stays pending, to be claimed and tried again. */
  private async setAsideAndAck(
    id: string,
    payload: string,
    reason: string,
    position?: string,
  ): Promise<void> {
    const source = `stream:${this.stream}`;
    if (await setAside(this.deadLetters, this.log, source, payload, reason, position)) {
      await this.redis.xack(this.stream, this.options.group, id);
    }
  }
}
