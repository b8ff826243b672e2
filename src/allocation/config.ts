// The service's settings (SPEC section 6), read through config_parsing.ts, each with its
// default. The messaging settings (inbound transport, outbox relay, retention) live in
// config_messaging.ts and are re-exported here, so every setting is `config.<name>`.
import { ConfigError, env, intEnv } from './config_parsing';

export { ConfigError };
export * from './config_messaging';

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

/** SPEC section 5: notifications sent per second at most; the rest wait (none is dropped). */
export function emailMaxPerSecond(): number {
  const perSecond = intEnv('EMAIL_MAX_PER_SECOND', 5);
  if (perSecond < 1) throw new ConfigError('EMAIL_MAX_PER_SECOND must be at least 1, got 0');
  return perSecond;
}

export function stockEmail(): string {
  return env('STOCK_EMAIL') ?? 'stock@example.com';
}

export function logLevel(): string {
  return env('LOG_LEVEL') ?? 'info';
}

/** Connections per process: enough to keep both cores busy, few enough for many replicas. */
export function dbPoolSize(): number {
  // at least 2: a unit of work's transaction and the loads of another at once
  return Math.max(2, intEnv('DB_POOL_SIZE', 10));
}

/** One API process unless asked (SPEC section 8): replicas are the way to scale. */
export function apiWorkers(): number {
  return Math.max(1, intEnv('API_WORKERS', 1));
}

export function shutdownTimeoutMs(): number {
  return intEnv('SHUTDOWN_TIMEOUT_MS', 10_000);
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

/**
 * The longest a request's body may take to arrive (SPEC section 10): a later one gets 408, and
 * no admission slot is held meanwhile. Positive: a body wait must have a bound.
 */
export function bodyTimeoutMs(): number {
  const ms = intEnv('BODY_TIMEOUT_MS', 10_000);
  if (ms === 0) throw new ConfigError('BODY_TIMEOUT_MS must be a positive integer, got 0');
  return ms;
}

/** The longest a command waits for its sku's earlier commands in this process. */
export function skuQueueTimeoutMs(): number {
  return intEnv('SKU_QUEUE_TIMEOUT_MS', 5_000);
}

/** Bearer tokens (SPEC section 9): unset means that group of routes is not checked. */
export function apiToken(): string | undefined {
  return env('API_TOKEN');
}

export function adminToken(): string | undefined {
  return env('ADMIN_TOKEN');
}
