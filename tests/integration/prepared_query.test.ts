import { expect } from 'chai';
import type pg from 'pg';
import { createPool } from '../../src/allocation/adapters/postgres/db';
import { preparedQuery, type Query } from '../../src/allocation/adapters/postgres/prepared';
import { testPool } from '../support/db';

/** A pool of its own (the shared one's connections are not this test's to count). */
async function withOwnPool(test: (query: Query, pool: pg.Pool) => Promise<void>): Promise<void> {
  await testPool(); // migrated
  const pool = createPool(process.env.DATABASE_URL as string, 2);
  try {
    await test(preparedQuery(pool), pool);
  } finally {
    await pool.end();
  }
}

describe('prepared statements on the pool', () => {
  const backend = 'SELECT pg_backend_pid() AS pid';

  it('keeps the connection after an error the server answered (a lost version race)', () =>
    withOwnPool(async (query, pool) => {
      const [before] = await query<{ pid: number }>(backend, []);
      const conflict = `DO $$ BEGIN RAISE EXCEPTION 'lost' USING ERRCODE = 'serialization_failure'; END $$`;
      const error = await query(conflict, []).catch((e: unknown) => e);
      const [after] = await query<{ pid: number }>(backend, []);

      expect((error as { code?: string }).code).to.equal('40001');
      expect(after.pid).to.equal(before.pid);
      expect(pool.totalCount).to.equal(1);
    }));

  it("closes the connection when the client's own timeout ends a statement", () =>
    withOwnPool(async (query) => {
      const [before] = await query<{ pid: number }>(backend, []);
      const error = await query('SELECT pg_sleep(2)', [], 50).catch((e: unknown) => e);
      const [after] = await query<{ pid: number }>(backend, []);

      expect((error as Error).message).to.match(/timeout/i);
      expect(after.pid).to.not.equal(before.pid);
    }));
});
