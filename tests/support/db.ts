// One migrated database per test run, from DATABASE_URL (set by the devenv wrapper).
import type { Knex } from 'knex';
import { createKnex, migrate } from '../../src/allocation/adapters/db';

let db: Promise<Knex> | undefined;

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

after(async () => {
  if (db) await (await db).destroy();
});
