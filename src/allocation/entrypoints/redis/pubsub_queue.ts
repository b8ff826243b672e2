import { KEPT_BYTES, MAX_MESSAGE_BYTES } from './inbound';
import { arrivalPosition } from './positions';

/** A pub/sub message as received, waiting in this process for its turn. */
export interface Received {
  /** The message, or only its first KEPT_BYTES when it is over the size limit. */
  payload: Buffer;
  /** Its size as it arrived (above the limit, more than `payload` holds). */
  size: number;
  /** Date.now() when it arrived: its total wait is counted from here. */
  arrivedAt: number;
  /** Its arrival as a position (positions.ts): kept in the spill and in a dead letter. */
  position: string;
}

/**
 * A message over the size limit is never parsed, only set aside with its size and first KiB:
 * that is all of it that is kept, so one huge message costs a queue (or the spill) 1 KiB.
 */
export function received(payload: Buffer, now = Date.now()): Received {
  const position = arrivalPosition(now);
  if (payload.length <= MAX_MESSAGE_BYTES) {
    return { payload, size: payload.length, arrivedAt: now, position };
  }
  return {
    payload: Buffer.from(payload.subarray(0, KEPT_BYTES)),
    size: payload.length,
    arrivedAt: now,
    position,
  };
}

export interface QueueLimits {
  messages: number;
  bytes: number;
}

/** What /metrics shows of the queue: now, and the most it ever held. */
export interface QueueStats {
  messages: number;
  bytes: number;
  peakMessages: number;
  peakBytes: number;
}

/**
 * First in, first out, with a ceiling on both the number of messages and their bytes: a message
 * that does not fit is refused, and the caller puts it somewhere durable instead (pubsub_spill).
 */
export class BoundedQueue {
  private items: Received[] = [];
  private head = 0;
  private bytes = 0;
  private peakMessages = 0;
  private peakBytes = 0;

  constructor(private readonly limits: QueueLimits) {}

  get length(): number {
    return this.items.length - this.head;
  }

  /** False, and nothing queued, when the message would take the queue over either limit. */
  offer(item: Received): boolean {
    const bytes = this.bytes + item.payload.length;
    if (this.length + 1 > this.limits.messages || bytes > this.limits.bytes) return false;
    this.items.push(item);
    this.bytes = bytes;
    this.peakMessages = Math.max(this.peakMessages, this.length);
    this.peakBytes = Math.max(this.peakBytes, bytes);
    return true;
  }

  /** The oldest message, without taking it. */
  peek(): Received | undefined {
    return this.items[this.head];
  }

  shift(): Received | undefined {
    const item = this.items[this.head];
    if (item === undefined) return undefined;
    this.items[this.head++] = undefined as unknown as Received; // let it be collected
    this.bytes -= item.payload.length;
    // Compact now and then rather than shift() an array of thousands each time.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** Everything queued, oldest first; the queue is left empty. */
  takeAll(): Received[] {
    const all = this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    this.bytes = 0;
    return all;
  }

  stats(): QueueStats {
    const { peakMessages, peakBytes } = this;
    return { messages: this.length, bytes: this.bytes, peakMessages, peakBytes };
  }
}
