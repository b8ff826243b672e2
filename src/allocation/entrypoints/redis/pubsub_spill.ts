import type { RedisClient } from '../../adapters/redis/redis_connections';
import { backoffMs } from '../../service_layer/backoff';
import type { Logger } from '../../service_layer/ports';
import type { Received } from './pubsub_queue';
import { field } from './stream_fields';
import { firstEntryAgeSeconds } from './inbound_lag';

/** An entry of the spill: its id, and the message as it was received (absent if deleted). */
export interface SpilledEntry {
  id: string;
  payload: Buffer | undefined;
  /** The size the message arrived with (more than `payload` holds when it was over the limit). */
  size: number;
  /** When it arrived (positions.ts); absent for an entry spilled by an older version. */
  position?: string;
}

// One reader, always the same name: a restarted process takes over what its predecessor had
// read but not finished (the group's pending list), in order.
const GROUP = 'pubsub-spill';
const CONSUMER = 'consumer';
// One MULTI holds at most this much: few round trips in a burst, no huge command.
const APPEND_CHUNK = { messages: 1_000, bytes: 1024 * 1024 };
const READ_COUNT = 50;

type Entry = [id: Buffer, fields: Buffer[] | null];

/**
 * Where the pub/sub consumer keeps what does not fit in memory, or waited there too long: a Redis
 * stream, so it survives a restart and needs no PostgreSQL (whose outage is what fills it).
 * Appends keep their order (one writer, chunks in MULTI: a chunk is stored whole or not at all,
 * and retried until it is). Reads go through a consumer group, so an entry read but not
 * finished is read again (its own pending list first) and is removed only once handled.
 */
export class PubsubSpill {
  private unwritten: Received[] = [];
  private writing: Promise<void> | undefined;
  private appended = 0;

  constructor(
    /** Not the subscribed connection: that one can only (un)subscribe. */
    private readonly redis: RedisClient,
    readonly stream: string,
    private readonly log: Logger,
  ) {}

  /** Creates the stream and its group if missing (again, after a Redis that restarted empty). */
  async createGroup(): Promise<void> {
    try {
      await this.redis.xgroup('CREATE', this.stream, GROUP, '0', 'MKSTREAM');
    } catch (error) {
      if (!String(error).includes('BUSYGROUP')) throw error;
    }
  }

  /** Queues messages to be appended, in this order, after everything appended before. */
  append(items: Received[]): void {
    for (const item of items) this.unwritten.push(item);
    if (this.unwritten.length > 0) this.writing ??= this.write();
  }

  /** Nothing waits to be written: every message appended so far is in Redis. */
  get idle(): boolean {
    return this.writing === undefined;
  }

  /** Messages waiting to be written (in memory only while Redis refuses them). */
  get unwrittenCount(): number {
    return this.unwritten.length;
  }

  /** Messages written to the spill since start. */
  get appendedTotal(): number {
    return this.appended;
  }

  /** When the oldest message waiting to be written arrived (Date.now()), if any waits. */
  get oldestUnwrittenArrivedAt(): number | undefined {
    return this.unwritten[0]?.arrivedAt;
  }

  /** Age of the oldest entry left in the spill (handled ones are deleted), on Redis' clock. */
  oldestAgeSeconds(): Promise<number> {
    return firstEntryAgeSeconds(this.redis, this.stream);
  }

  async flushed(): Promise<void> {
    while (this.writing) await this.writing;
  }

  private async write(): Promise<void> {
    for (let failures = 0; this.unwritten.length > 0;) {
      const chunk = this.nextChunk();
      try {
        const multi = this.redis.multi();
        for (const { payload, size, position } of chunk) {
          const fields: (string | Buffer)[] = ['payload', payload, 'position', position];
          if (size !== payload.length) fields.push('size', String(size));
          multi.xadd(this.stream, '*', ...fields);
        }
        const replies = (await multi.exec()) ?? [];
        const failed = replies.find(([error]) => error);
        if (failed || replies.length !== chunk.length) throw failed?.[0] ?? new Error('aborted');
        this.unwritten.splice(0, chunk.length);
        this.appended += chunk.length;
        failures = 0;
      } catch (error) {
        failures += 1;
        this.log.warn({ err: error, unwritten: this.unwritten.length }, 'spill append failed');
        await new Promise((resolve) => setTimeout(resolve, backoffMs(failures, 100, 5_000)));
      }
    }
    this.writing = undefined; // synchronously after the last check: no append can slip past
  }

  private nextChunk(): Received[] {
    let [count, bytes] = [0, 0];
    while (count < this.unwritten.length && count < APPEND_CHUNK.messages) {
      if (count > 0 && bytes + this.unwritten[count].payload.length > APPEND_CHUNK.bytes) break;
      bytes += this.unwritten[count++].payload.length;
    }
    return this.unwritten.slice(0, count);
  }

  /** The next entries in order: the ones read before but not removed first, else new ones. */
  async read(): Promise<SpilledEntry[]> {
    const own = await this.readGroup('0');
    return own.length > 0 ? own : this.readGroup('>');
  }

  private async readGroup(from: '0' | '>'): Promise<SpilledEntry[]> {
    const reply = await this.redis.xreadgroupBuffer(
      'GROUP',
      GROUP,
      CONSUMER,
      'COUNT',
      READ_COUNT,
      'STREAMS',
      this.stream,
      from,
    );
    // An entry deleted while pending comes back with no fields (nil), whatever the typing says.
    return ((reply?.[0]?.[1] ?? []) as Entry[]).map(([id, fields]) => {
      const payload = fields ? field(fields, 'payload') : undefined;
      const size = Number(fields ? field(fields, 'size')?.toString() : undefined);
      return {
        id: id.toString(),
        payload,
        size: Number.isFinite(size) ? size : (payload?.length ?? 0),
        position: fields ? field(fields, 'position')?.toString() : undefined,
      };
    });
  }

  /** Handled (or set aside): acknowledged and deleted, so the stream holds only what is left. */
  async remove(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    const replies = await this.redis
      .multi()
      .xack(this.stream, GROUP, ...ids)
      .xdel(this.stream, ...ids)
      .exec();
    const failed = replies?.find(([error]) => error)?.[0];
    if (failed) throw failed;
  }
}
