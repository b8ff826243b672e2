// The settings of the messages in and out (SPEC sections 4 and 6): how change_batch_quantity
// arrives, how the outbox relay delivers and retries, and how long handled messages are kept.
import os from 'node:os';
import { ConfigError, durationEnv, env, intEnv } from './config_parsing';

/** How change_batch_quantity arrives: `pubsub` (SPEC section 4, default) or `stream`. */
export function inboundTransport(): 'pubsub' | 'stream' {
  const value = env('INBOUND_TRANSPORT') ?? 'pubsub';
  if (value !== 'pubsub' && value !== 'stream') {
    throw new ConfigError(`INBOUND_TRANSPORT must be pubsub or stream, got ${value}`);
  }
  return value;
}

/** The stream consumer's group, its name in it, and its redelivery rules. */
export function streamConsumer(): {
  group: string;
  name: string;
  claimIdleMs: number;
  maxDeliveries: number;
} {
  return {
    group: env('CONSUMER_GROUP') ?? 'allocation',
    name: env('CONSUMER_NAME') ?? `${os.hostname()}-${process.pid}`,
    claimIdleMs: intEnv('STREAM_CLAIM_IDLE_MS', 30_000),
    maxDeliveries: intEnv('STREAM_MAX_DELIVERIES', 5),
  };
}

/**
 * The pub/sub consumer's bounds (SPEC section 10): at most this many messages and bytes wait in
 * memory, none for longer than maxWaitMs; beyond that they go to the Redis stream `spillStream`
 * and are handled from there, in order (entrypoints/redis/redis_eventconsumer.ts).
 */
export function pubsubConsumer(): {
  messages: number;
  bytes: number;
  maxWaitMs: number;
  spillStream: string;
} {
  return {
    messages: Math.max(1, intEnv('PUBSUB_QUEUE_MAX_MESSAGES', 10_000)),
    bytes: Math.max(1, intEnv('PUBSUB_QUEUE_MAX_BYTES', 16 * 1024 * 1024)),
    maxWaitMs: intEnv('PUBSUB_MAX_WAIT_MS', 10_000),
    spillStream: env('PUBSUB_SPILL_STREAM') ?? 'change_batch_quantity:spill',
  };
}

/** Whether line_allocated is also appended to a stream (capped at about this many entries). */
export function outboundStream(): { enabled: boolean; maxLength: number } {
  return {
    enabled: env('OUTBOUND_STREAM') === 'true',
    maxLength: intEnv('OUTBOUND_STREAM_MAXLEN', 1_000_000),
  };
}

export function outboxPollMs(): number {
  return intEnv('OUTBOX_POLL_MS', 200);
}

/** Backoff of failed outbox deliveries: first retry about this soon... */
export function outboxRetryBaseMs(): number {
  return intEnv('OUTBOX_RETRY_BASE_MS', 200);
}

/** ...doubling up to this cap. */
export function outboxRetryMaxMs(): number {
  return intEnv('OUTBOX_RETRY_MAX_MS', 30_000);
}

/**
 * Deliveries of an outbound message before it becomes a dead letter. The default keeps
 * retrying for at least an hour with the configured backoff (each wait is at least half of
 * min(cap, base * 2^attempt)), so an outage of an hour loses nothing to the dead letters.
 */
export function outboxMaxAttempts(): number {
  const fallback = attemptsToCover(3600_000, outboxRetryBaseMs(), outboxRetryMaxMs());
  return Math.max(1, intEnv('OUTBOX_MAX_ATTEMPTS', fallback));
}

function attemptsToCover(ms: number, baseMs: number, capMs: number): number {
  let waited = 0;
  let attempts = 1;
  for (; waited < ms && attempts < 100_000; attempts++) {
    waited += Math.min(capMs, baseMs * 2 ** Math.min(attempts - 1, 30)) / 2;
  }
  return attempts;
}

/**
 * While a delivery handler's transport is unreachable (its circuit open), the relay tries one
 * message this often (SPEC section 9): at least 1 ms, since 0 would probe in a tight loop.
 */
export function outboxProbeMs(): number {
  const value = intEnv('OUTBOX_PROBE_MS', 5_000);
  if (value < 1) throw new ConfigError(`OUTBOX_PROBE_MS must be at least 1, got ${value}`);
  return value;
}

/** How long the outbox relay's leadership lease lasts unless renewed (a dead leader's lapses). */
export function outboxLeaseMs(): number {
  return Math.max(300, intEnv('OUTBOX_LEASE_MS', 5_000));
}

/**
 * How long delivered outbox rows, processed inbound ids, closed dead letters, history entries
 * and audit entries (operator actions) are kept.
 */
export function retention(): {
  outboxMs: number;
  inboxMs: number;
  deadLetterMs: number;
  historyMs: number;
  auditMs: number;
} {
  return {
    outboxMs: durationEnv('OUTBOX_RETENTION', '1d'),
    inboxMs: durationEnv('INBOX_RETENTION', '7d'),
    deadLetterMs: durationEnv('DEAD_LETTER_RETENTION', '30d'),
    historyMs: durationEnv('HISTORY_RETENTION', '90d'),
    auditMs: durationEnv('AUDIT_RETENTION', '90d'),
  };
}
