// SPEC section 10: a statement stuck behind a lock ends in a 503 once the configured timeout
// fires (never a hang), and the sku serves requests again once the lock is gone.
import { expect } from 'chai';
import type { Knex } from 'knex';
import type Koa from 'koa';
import type pg from 'pg';
import request from 'supertest';
import { createKnex, createPool } from '../../src/allocation/adapters/postgres/db';
import { bootstrap, type Service } from '../../src/allocation/bootstrap';
import { dbLimits, type DbLimits } from '../../src/allocation/config';
import { testDb } from '../support/db';
import { randomBatchref, randomOrderid, randomSku } from '../support/random_refs';

const cases: [string, Partial<DbLimits>][] = [
  // the lock wait outlasts the whole statement's budget: 57014
  ['statement timeout', { statementTimeoutMs: 300, lockTimeoutMs: 0 }],
  // the lock wait's own limit fires first: 55P03
  ['lock timeout', { statementTimeoutMs: 10_000, lockTimeoutMs: 300 }],
];

for (const [name, limits] of cases) {
  describe(`a statement stuck behind a lock (${name})`, () => {
    let db: Knex;
    let pool: pg.Pool;
    let service: Service;
    let app: Koa;
    before(async () => {
      await testDb(); // migrated
      db = createKnex(process.env.DATABASE_URL as string, 4, { ...dbLimits(), ...limits });
      pool = createPool(process.env.DATABASE_URL as string, 4, { ...dbLimits(), ...limits });
      service = bootstrap({ db, pool });
      app = service.app();
    });
    after(async () => {
      await service.close();
      await db.destroy();
      await pool.end();
    });

    it('answers 503 with Retry-After, then serves the sku again once the lock is gone', async () => {
      const [sku, ref] = [randomSku('stuck'), randomBatchref()];
      const http = () => request(app.callback());
      await http().post('/add_batch').send({ ref, sku, qty: 10 }).expect(201);
      const blocker = await (await testDb()).transaction();
      try {
        // What a stuck process would do: hold the product's row lock and never finish.
        await blocker.raw('SELECT 1 FROM products WHERE sku = ? FOR UPDATE', [sku]);

        const stuck = await http()
          .post('/allocate')
          .send({ orderid: randomOrderid(), sku, qty: 1 });

        expect(stuck.status).to.equal(503);
        expect(stuck.headers['retry-after']).to.match(/^\d+$/);
        expect(stuck.body).to.have.property('message').that.is.a('string');
      } finally {
        await blocker.rollback();
      }
      const orderid = randomOrderid();
      const after = await http().post('/allocate').send({ orderid, sku, qty: 1 });
      expect(after.status).to.equal(202);
      expect(after.body).to.deep.equal({ batchref: ref });
      const lines = await (await testDb())('order_lines').where({ orderid, sku });
      expect(lines).to.have.length(1);
    });
  });
}
