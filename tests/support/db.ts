// One migrated database per test run, from DATABASE_URL (set by the devenv wrapper).
import type { Knex } from 'knex';
import type pg from 'pg';
import { createKnex, createPool, migrate } from '../../src/allocation/adapters/postgres/db';

let db: Promise<Knex> | undefined;
let pool: pg.Pool | undefined;

export function testDb(): Promise<Knex> {
  db ??= (async () => {
    const url = process.env.DATABASE_URL;
    if (!url) throw new Error('DATABASE_URL is not set: run the tests through make');
    const knex = createKnex(url, 10);
    await migrate(knex);
    return knex;
  })();
  return db;
}

/** pg's pool on the same database (migrated): what units of work and views use. */
export async function testPool(): Promise<pg.Pool> {
  await testDb();
  pool ??= createPool(process.env.DATABASE_URL as string, 10);
  return pool;
}

after(async () => {
  if (pool) await pool.end();
  if (db) await (await db).destroy();
});

/**
 * The backends waiting for a lock that backend `pid` holds. pg_blocking_pids sees the locks of
 * its own server only: on Citus a row lock is taken and waited for on the worker that holds the
 * row, so there `citus_lock_waits` answers, naming both sides by the coordinator backend (global
 * pid) that sent the statement. Every client of the tests talks to the coordinator.
 */
export async function backendsBlockedBy(db: Knex, pid: number): Promise<number[]> {
  const citus = await db.raw<{ rows: unknown[] }>(
    `SELECT 1 FROM pg_extension WHERE extname = 'citus'`,
  );
  const { rows } = await db.raw<{ rows: { pid: number }[] }>(
    citus.rows.length > 0
      ? `SELECT citus_pid_for_gpid(waiting_gpid) AS pid FROM citus_lock_waits
         WHERE blocking_gpid = citus_calculate_gpid(citus_nodeid_for_gpid(citus_backend_gpid()), ?)`
      : 'SELECT pid FROM pg_stat_activity WHERE ? = ANY(pg_blocking_pids(pid))',
    [pid],
  );
  return rows.map((row) => row.pid);
}
