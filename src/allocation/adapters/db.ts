import path from 'node:path';
import knex, { type Knex } from 'knex';
import pg from 'pg';

// A DATE stays the 'YYYY-MM-DD' string it is: parsing it into a Date would shift it by the
// process's time zone.
pg.types.setTypeParser(pg.types.builtins.DATE, (value) => value);

export function createKnex(databaseUrl: string, poolSize: number): Knex {
  return knex({
    client: 'pg',
    // keepAlive: a connection to a vanished server (half-open) fails instead of hanging
    connection: { connectionString: databaseUrl, keepAlive: true },
    pool: { min: 0, max: poolSize },
    acquireConnectionTimeout: 10_000,
  });
}

// Compiled migrations sit in dist/migrations, three levels above this file's dist folder.
const MIGRATIONS = path.resolve(__dirname, '../../../migrations');

export async function migrate(db: Knex): Promise<void> {
  await db.migrate.latest({ directory: MIGRATIONS, loadExtensions: ['.js'] });
}

export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  const e = error as { code?: string; constraint?: string };
  return e?.code === '23505' && (constraint === undefined || e.constraint === constraint);
}

const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  '57P01',
  '57P03',
]);

/** True when the database could not be reached, as opposed to a query that failed. */
export function isDatabaseUnavailable(error: unknown): boolean {
  const e = error as { code?: string; name?: string; message?: string };
  if (!e) return false;
  if (e.code && (UNAVAILABLE_CODES.has(e.code) || e.code.startsWith('08'))) return true;
  return (
    e.name === 'KnexTimeoutError' ||
    /Connection terminated|connection not open|Client has encountered a connection error/.test(
      e.message ?? '',
    )
  );
}
