// The only module that reads process.env (SPEC section 6); each function applies the default.
import os from 'node:os';

function env(name: string): string | undefined {
  const value = process.env[name];
  return value === undefined || value === '' ? undefined : value;
}

function intEnv(name: string, fallback: number): number {
  const value = env(name);
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0)
    throw new Error(`${name} must be an integer, got ${value}`);
  return parsed;
}

export function databaseUrl(): string {
  const url = env('DATABASE_URL');
  if (!url)
    throw new Error('DATABASE_URL is not set (make run starts an embedded PostgreSQL for you)');
  return url;
}

export function redisUrl(): string {
  const url = env('REDIS_URL');
  if (!url) throw new Error('REDIS_URL is not set (make run starts a local Redis for you)');
  return url;
}

export function apiHost(): string {
  return env('API_HOST') ?? '127.0.0.1';
}

export function apiPort(): number {
  return intEnv('API_PORT', 8000);
}

/** Undefined when no SMTP is configured: notifications then go to the log. */
export function smtp(): { host: string; port: number } | undefined {
  const host = env('SMTP_HOST');
  return host ? { host, port: intEnv('SMTP_PORT', 25) } : undefined;
}

export function stockEmail(): string {
  return env('STOCK_EMAIL') ?? 'stock@example.com';
}

export function logLevel(): string {
  return env('LOG_LEVEL') ?? 'info';
}

/** Connections per process: enough to keep both cores busy, few enough for many replicas. */
export function dbPoolSize(): number {
  // at least 2: the outbox relay's leader keeps one connection while it delivers
  return Math.max(2, intEnv('DB_POOL_SIZE', 10));
}

/** One API process unless asked (SPEC section 8): replicas are the way to scale. */
export function apiWorkers(): number {
  return Math.max(1, intEnv('API_WORKERS', 1));
}

export function outboxPollMs(): number {
  return intEnv('OUTBOX_POLL_MS', 200);
}

export function shutdownTimeoutMs(): number {
  return intEnv('SHUTDOWN_TIMEOUT_MS', 10_000);
}

/** Backoff of failed outbox deliveries: first retry about this soon... */
export function outboxRetryBaseMs(): number {
  return intEnv('OUTBOX_RETRY_BASE_MS', 200);
}

/** ...doubling up to this cap. */
export function outboxRetryMaxMs(): number {
  return intEnv('OUTBOX_RETRY_MAX_MS', 30_000);
}

/** How change_batch_quantity arrives: `pubsub` (SPEC section 4, default) or `stream`. */
export function inboundTransport(): 'pubsub' | 'stream' {
  const value = env('INBOUND_TRANSPORT') ?? 'pubsub';
  if (value !== 'pubsub' && value !== 'stream') {
    throw new Error(`INBOUND_TRANSPORT must be pubsub or stream, got ${value}`);
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

/** Whether line_allocated is also appended to a stream (capped at about this many entries). */
export function outboundStream(): { enabled: boolean; maxLength: number } {
  return {
    enabled: env('OUTBOUND_STREAM') === 'true',
    maxLength: intEnv('OUTBOUND_STREAM_MAXLEN', 1_000_000),
  };
}

/**
 * Bounded waits on PostgreSQL (SPEC section 10); 0 turns one off. A statement, a lock wait,
 * an idle open transaction, a wait for a pooled connection or for a new one each end in an
 * error (a 503 or a retried message) instead of a hang.
 */
export interface DbLimits {
  statementTimeoutMs: number;
  lockTimeoutMs: number;
  idleInTransactionTimeoutMs: number;
  acquireTimeoutMs: number;
  connectTimeoutMs: number;
  /** Idle time before TCP keepalive probes a connection (then 1 s apart, 10 probes). */
  keepAliveIdleMs: number;
}

export function dbLimits(): DbLimits {
  return {
    statementTimeoutMs: intEnv('DB_STATEMENT_TIMEOUT_MS', 10_000),
    lockTimeoutMs: intEnv('DB_LOCK_TIMEOUT_MS', 5_000),
    idleInTransactionTimeoutMs: intEnv('DB_IDLE_IN_TRANSACTION_TIMEOUT_MS', 30_000),
    acquireTimeoutMs: intEnv('DB_ACQUIRE_TIMEOUT_MS', 5_000),
    connectTimeoutMs: intEnv('DB_CONNECT_TIMEOUT_MS', 5_000),
    keepAliveIdleMs: intEnv('DB_KEEPALIVE_IDLE_MS', 5_000),
  };
}

/** Longest wait for any Redis reply; above the stream consumer's 1 s blocking read. */
export function redisCommandTimeoutMs(): number {
  return intEnv('REDIS_COMMAND_TIMEOUT_MS', 5_000);
}

/** Admission (SPEC section 10): requests in flight per process, beyond which a 503 answers. */
export function maxInflight(): { commands: number; reads: number } {
  const commands = Math.max(1, intEnv('MAX_INFLIGHT', 256));
  return { commands, reads: Math.max(1, intEnv('MAX_INFLIGHT_READS', commands * 4)) };
}

/** The longest a command waits for its sku's earlier commands in this process. */
export function skuQueueTimeoutMs(): number {
  return intEnv('SKU_QUEUE_TIMEOUT_MS', 5_000);
}

/** How long the outbox relay's leadership lease lasts unless renewed (a dead leader's lapses). */
export function outboxLeaseMs(): number {
  return Math.max(300, intEnv('OUTBOX_LEASE_MS', 5_000));
}
