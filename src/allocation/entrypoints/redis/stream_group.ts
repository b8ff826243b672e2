import type { RedisClient } from '../../adapters/redis/redis_connections';

/** Fields come as bytes, so a payload over the size limit is never decoded into a string. */
export type Entry = [id: Buffer, fields: Buffer[]];

const BLOCK_MS = 1_000;

/**
 * One consumer's Redis commands on a stream's consumer group, in the byte-typed forms the
 * consumer needs (some of which ioredis types only in full form). What to do with the entries is
 * the stream consumer's.
 */
export class StreamGroup {
  constructor(
    /** A connection of its own: XREADGROUP blocks it. */
    private readonly redis: RedisClient,
    readonly stream: string,
    private readonly group: string,
    private readonly name: string,
  ) {}

  /** Creates the stream and group if missing (again, after a Redis that restarted empty). */
  async create(): Promise<void> {
    try {
      // From the stream's start: entries added before the group existed are not lost.
      await this.redis.xgroup('CREATE', this.stream, this.group, '0', 'MKSTREAM');
    } catch (error) {
      if (!String(error).includes('BUSYGROUP')) throw error;
    }
  }

  async readNew(): Promise<Entry[]> {
    const reply = (await this.redis.xreadgroupBuffer(
      'GROUP',
      this.group,
      this.name,
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

  /** Takes over entries idle this long with any consumer, this one included. */
  async claimIdle(idleMs: number): Promise<Entry[]> {
    // ioredis has no typing of xautoclaimBuffer: the same command through callBuffer.
    const [, entries] = (await this.redis.callBuffer('XAUTOCLAIM', [
      this.stream,
      this.group,
      this.name,
      idleMs,
      '0-0',
      'COUNT',
      50,
    ])) as [Buffer, Entry[], Buffer[]];
    return entries;
  }

  /** Marks entries pending with this consumer as idle that long, without a delivery. */
  async markIdle(ids: string[], idleMs: number): Promise<void> {
    // JUSTID: not counted as a delivery (maxDeliveries); typed by ioredis only in full form.
    await this.redis.call('XCLAIM', [
      this.stream,
      this.group,
      this.name,
      0,
      ...ids,
      'IDLE',
      idleMs,
      'JUSTID',
    ]);
  }

  /** How many times each entry was delivered, asked entry by entry (one round trip). */
  async deliveryCounts(ids: string[]): Promise<Map<string, number>> {
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.xpending(this.stream, this.group, id, id, 1);
    const replies = (await pipeline.exec()) ?? [];
    const counts = new Map<string, number>();
    for (const [error, reply] of replies) {
      const [entry] = (error ? [] : reply) as [string, string, number, number][];
      if (entry) counts.set(entry[0], entry[3]);
    }
    return counts;
  }

  async ack(id: string): Promise<void> {
    await this.redis.xack(this.stream, this.group, id);
  }
}
