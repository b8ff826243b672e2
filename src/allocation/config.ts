// The only module that reads process.env (SPEC section 6); each function applies the default.
import os from 'node:os';

/** A setting with an invalid value: the start stops with this one sentence, which names it. */
export class ConfigError extends Error {
  name = 'ConfigError';
}

function env(name: string): string | undefined {
  const value = process.env[name];
  return value === undefined || value === '' ? undefined : value;
}

function intEnv(name: string, fallback: number): number {
  const value = env(name);
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0)
    throw new ConfigError(`${name} must be an integer, got ${value}`);
  return parsed;
}

export function databaseUrl(): string {
  const url = env('DATABASE_URL');
  if (!url)
    throw new ConfigError(
      'DATABASE_URL is not set (make run starts an embedded PostgreSQL for you)',
    );
  return url;
}

/** A streaming replica for the read routes (SPEC section 11); unset: they use DATABASE_URL. */
export function databaseReadUrl(): string | undefined {
  return env('DATABASE_READ_URL');
}

export function redisUrl(): string {
  const url = env('REDIS_URL');
  if (!url) throw new ConfigError('REDIS_URL is not set (make run starts a local Redis for you)');
  return url;
}

/**
 * Where Redis is: the seed nodes of a Redis Cluster when REDIS_CLUSTER_NODES is set
 * (`host:port,host:port,...`), else the one server of REDIS_URL.
 */
export function redisTarget():
  { url: string } | { clusterNodes: { host: string; port: number }[] } {
  const nodes = env('REDIS_CLUSTER_NODES');
  if (!nodes) return { url: redisUrl() };
  const clusterNodes = nodes
    .split(',')
    .map((node) => node.trim())
    .filter(Boolean)
    .map((node) => {
      const at = node.lastIndexOf(':');
      const port = Number(node.slice(at + 1));
      if (at <= 0 || !Number.isInteger(port) || port <= 0 || port > 65_535) {
        throw new Error(`REDIS_CLUSTER_NODES must be host:port,..., got ${node}`);
      }
      return { host: node.slice(0, at), port };
    });
  return { clusterNodes };
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
export function maxInflight(): { commands: number; reads: number; targetMs: number } {
  const commands = Math.max(1, intEnv('MAX_INFLIGHT', 256));
  return {
    commands,
    reads: Math.max(1, intEnv('MAX_INFLIGHT_READS', commands * 4)),
    targetMs: Math.max(0, intEnv('ADMISSION_TARGET_MS', 250)),
  };
}

/** The longest a command waits for its sku's earlier commands in this process. */
export function skuQueueTimeoutMs(): number {
  return intEnv('SKU_QUEUE_TIMEOUT_MS', 5_000);
}

/** How long the outbox relay's leadership lease lasts unless renewed (a dead leader's lapses). */
export function outboxLeaseMs(): number {
  return Math.max(300, intEnv('OUTBOX_LEASE_MS', 5_000));
}

/** Bearer tokens (SPEC section 9): unset means that group of routes is not checked. */
export function apiToken(): string | undefined {
  return env('API_TOKEN');
}

export function adminToken(): string | undefined {
  return env('ADMIN_TOKEN');
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

const DURATION_UNITS_MS: Record<string, number> = {
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** A duration such as `30m`, `12h` or `7d`, in milliseconds. */
function durationEnv(name: string, fallback: string): number {
  const value = env(name) ?? fallback;
  const match = /^(\d+)([smhd])$/.exec(value);
  if (!match || Number(match[1]) <= 0) {
    throw new ConfigError(`${name} must be a duration such as 30m, 12h or 7d, got ${value}`);
  }
  return Number(match[1]) * DURATION_UNITS_MS[match[2]];
}

/** How long delivered outbox rows, processed inbound ids and closed dead letters are kept. */
export function retention(): { outboxMs: number; inboxMs: number; deadLetterMs: number } {
  return {
    outboxMs: durationEnv('OUTBOX_RETENTION', '1d'),
    inboxMs: durationEnv('INBOX_RETENTION', '7d'),
    deadLetterMs: durationEnv('DEAD_LETTER_RETENTION', '30d'),
  };
}
