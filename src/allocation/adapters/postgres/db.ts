import path from 'node:path';
import knex, { type Knex } from 'knex';
import pg from 'pg';
import * as config from '../../config';
import type { DbLimits } from '../../config';

// A DATE stays the 'YYYY-MM-DD' string it is: parsing it into a Date would shift it by the
// process's time zone.
pg.types.setTypeParser(pg.types.builtins.DATE, (value) => value);

/** A reply this much later than the server's own statement timeout means the server is gone. */
const CLIENT_TIMEOUT_GRACE_MS = 5_000;

/**
 * The knex instance for migrations and the operational tables (outbox relay, dead letters,
 * console), where its query builder reads better than SQL text.
 */
export function createKnex(
  databaseUrl: string,
  poolSize: number,
  limits: DbLimits = config.dbLimits(),
): Knex {
  return knex({
    client: 'pg',
    connection: connectionSettings(databaseUrl, limits) as Knex.PgConnectionConfig,
    pool: { min: 0, max: poolSize },
    acquireConnectionTimeout: limits.acquireTimeoutMs,
  });
}

/**
 * pg's own pool for the hot path (units of work, group commit, reads): named prepared
 * statements need a connection's own `query`, which knex does not expose (prepared.ts).
 */
export function createPool(
  databaseUrl: string,
  poolSize: number,
  limits: DbLimits = config.dbLimits(),
): pg.Pool {
  const pool = new pg.Pool({
    ...connectionSettings(databaseUrl, limits),
    max: poolSize,
    // pg's pool bounds the wait for a connection, pooled or new, with one setting
    connectionTimeoutMillis: Math.max(limits.acquireTimeoutMs, limits.connectTimeoutMs),
  });
  // An idle connection that breaks is dropped by the pool; statements get a working one.
  pool.on('error', () => undefined);
  return pool;
}

/** pg's settings for each new connection, whichever pool opens it. */
function connectionSettings(databaseUrl: string, limits: DbLimits): pg.ClientConfig {
  return {
    connectionString: databaseUrl,
    // Sent with each connection's start-up, so they cost no round trip: the server cancels a
    // statement or a lock wait past its limit, and ends a transaction left idle.
    statement_timeout: limits.statementTimeoutMs,
    lock_timeout: limits.lockTimeoutMs,
    idle_in_transaction_session_timeout: limits.idleInTransactionTimeoutMs,
    // The client's own limit, for a server that vanished and can cancel nothing.
    query_timeout:
      limits.statementTimeoutMs > 0
        ? limits.statementTimeoutMs + CLIENT_TIMEOUT_GRACE_MS
        : undefined,
    connectionTimeoutMillis: limits.connectTimeoutMs,
    // A half-open connection (server host gone) is probed after this idle time, 1 s apart,
    // 10 times (libuv's settings), then fails instead of hanging.
    keepAlive: true,
    keepAliveInitialDelayMillis: limits.keepAliveIdleMs,
  };
}

// Compiled migrations sit in dist/migrations, four levels above this file's dist folder.
const MIGRATIONS = path.resolve(__dirname, '../../../../migrations');

export async function migrate(db: Knex): Promise<void> {
  await db.migrate.latest({ directory: MIGRATIONS, loadExtensions: ['.js'] });
}

export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  const e = error as { code?: string; constraint?: string };
  return e?.code === '23505' && (constraint === undefined || e.constraint === constraint);
}
