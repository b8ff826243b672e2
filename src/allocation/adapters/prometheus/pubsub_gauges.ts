import { Counter, Gauge, type Registry } from 'prom-client';

/** What the pub/sub consumer reports (entrypoints/redis/redis_eventconsumer.ts). */
export interface PubsubQueueGauges {
  messages: number;
  bytes: number;
  peakMessages: number;
  peakBytes: number;
  spilling: boolean;
  spilledTotal: number;
  unwritten: number;
}

/**
 * The pub/sub consumer's bounded queue and its spill to Redis, read on scrape: the queue now and
 * the most it held since start (tests assert the bound on it), and what went to the spill.
 */
export function registerPubsubGauges(registry: Registry, read: () => PubsubQueueGauges): void {
  const registers = [registry];
  const gauges: [keyof PubsubQueueGauges, string, string][] = [
    ['messages', 'allocation_pubsub_queue_messages', 'Pub/sub messages waiting in memory'],
    ['bytes', 'allocation_pubsub_queue_bytes', 'Bytes of the pub/sub messages in memory'],
    [
      'peakMessages',
      'allocation_pubsub_queue_peak_messages',
      'Most pub/sub messages in memory at once',
    ],
    [
      'peakBytes',
      'allocation_pubsub_queue_peak_bytes',
      'Most bytes of pub/sub messages in memory at once',
    ],
    [
      'spilling',
      'allocation_pubsub_spilling',
      '1 while pub/sub messages go to the Redis spill stream',
    ],
    [
      'unwritten',
      'allocation_pubsub_spill_unwritten',
      'Messages waiting for Redis to take them into the spill',
    ],
  ];
  for (const [key, name, help] of gauges) {
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(Number(read()[key]));
      },
    });
  }
  new Counter({
    name: 'allocation_pubsub_spilled_total',
    help: 'Pub/sub messages appended to the Redis spill stream',
    registers,
    collect() {
      this.reset();
      this.inc(read().spilledTotal);
    },
  });
}
