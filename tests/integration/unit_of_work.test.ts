import { expect } from 'chai';
import type { Knex } from 'knex';
import { Batch, OrderLine, Product } from '../../src/allocation/domain/model';
import { ConcurrencyError, DuplicateBatch } from '../../src/allocation/service_layer/errors';
import { testDb, testPool } from '../support/db';
import { randomBatchref, randomOrderid, randomSku } from '../support/random_refs';
import { allocatedBatchref, insertBatch, newUow } from './uow_fixtures';

async function countAllocations(db: Knex, sku: string): Promise<number> {
  const row = await db('allocations as a')
    .join('order_lines as ol', (j) => j.on('ol.id', 'a.orderline_id').andOn('ol.sku', 'a.sku'))
    .where('ol.sku', sku)
    .first(db.raw('count(*)::int AS n'));
  return row.n as number;
}

/** Resolves when `n` callers have arrived, so two transactions overlap deterministically. */
function barrier(n: number): () => Promise<void> {
  let arrived = 0;
  let release!: () => void;
  const all = new Promise<void>((resolve) => (release = resolve));
  return async () => {
    arrived += 1;
    if (arrived === n) release();
    await all;
  };
}

describe('unit of work', () => {
  it('retrieves a batch and allocates to it', async () => {
    const db = await testDb();
    const [sku, ref, orderid] = [randomSku(), randomBatchref(), randomOrderid()];
    await insertBatch(db, ref, sku, 100);

    const uow = newUow(await testPool());
    await uow.run(async () => {
      const product = await uow.products.get(sku);
      product?.allocate(new OrderLine(orderid, sku, 10));
      await uow.commit();
    });

    expect(await allocatedBatchref(db, orderid, sku)).to.equal(ref);
    const batch = await db('batches').first('allocated_quantity').where({ reference: ref });
    expect(batch.allocated_quantity).to.equal(10);
  });

  it('rolls back uncommitted work by default', async () => {
    const db = await testDb();
    const [sku, ref] = [randomSku(), randomBatchref()];
    await insertBatch(db, ref, sku, 100);

    const uow = newUow(await testPool());
    await uow.run(async () => {
      (await uow.products.get(sku))?.allocate(new OrderLine('o1', sku, 10));
    });

    expect(await allocatedBatchref(db, 'o1', sku)).to.equal(undefined);
  });

  it('rolls back on error', async () => {
    const db = await testDb();
    const [sku, ref] = [randomSku(), randomBatchref()];
    await insertBatch(db, ref, sku, 100);
    const uow = newUow(await testPool());

    const run = uow.run(async () => {
      (await uow.products.get(sku))?.allocate(new OrderLine('o1', sku, 10));
      await uow.products.getForQuantityChange(ref, 0); // opens a transaction (row lock)
      throw new Error('boom');
    });

    await expect(run).to.be.rejectedWith(Error, /^boom$/);
    expect(await allocatedBatchref(db, 'o1', sku)).to.equal(undefined);
  });

  it('lets only one of two concurrent changes to a product commit', async () => {
    const db = await testDb();
    const [sku, ref] = [randomSku(), randomBatchref()];
    await insertBatch(db, ref, sku, 100, null, 1);
    const bothLoaded = barrier(2);

    const tryToAllocate = async (orderid: string): Promise<void> => {
      const uow = newUow(await testPool());
      await uow.run(async () => {
        const product = await uow.products.get(sku, { orderids: [orderid] });
        product?.allocate(new OrderLine(orderid, sku, 10));
        await bothLoaded();
        await uow.commit();
      });
    };
    const results = await Promise.allSettled([tryToAllocate('o1'), tryToAllocate('o2')]);

    const failures = results.filter((r) => r.status === 'rejected');
    expect(results.filter((r) => r.status === 'fulfilled')).to.have.length(1);
    expect(failures).to.have.length(1);
    expect(failures[0].reason).to.be.instanceOf(ConcurrencyError);
    const product = await db('products').first('version_number').where({ sku });
    expect(product.version_number).to.equal(2);
    expect(await countAllocations(db, sku)).to.equal(1);
  });

  it('writes outbound events and read-model rows with the change, and none when rolled back', async () => {
    const db = await testDb();
    const [sku, ref] = [randomSku(), randomBatchref()];
    await insertBatch(db, ref, sku, 100);

    const committing = newUow(await testPool());
    await committing.run(async () => {
      (await committing.products.get(sku))?.allocate(new OrderLine('o1', sku, 1));
      await committing.commit();
    });
    const abandoning = newUow(await testPool());
    await abandoning.run(async () => {
      (await abandoning.products.get(sku))?.allocate(new OrderLine('o2', sku, 1));
    });

    const rows = await db('outbox')
      .where({ key: sku })
      .orderBy('id')
      .select('type', 'handler', 'payload');
    const payload = { orderid: 'o1', sku, qty: 1, batchref: ref, version: 2 };
    expect(rows).to.deep.equal([{ type: 'Allocated', handler: 'line_allocated', payload }]);
    const view = await db('allocations_view').where({ sku }).select('orderid', 'batchref');
    expect(view).to.deep.equal([{ orderid: 'o1', batchref: ref }]); // written with the change
  });

  it('refuses a new batch whose ref another sku holds, and writes nothing of it', async () => {
    const db = await testDb();
    const [sku, otherSku, ref] = [randomSku(), randomSku('other'), randomBatchref()];
    await insertBatch(db, ref, sku, 100);

    const uow = newUow(await testPool());
    const run = uow.run(async () => {
      const product = new Product(otherSku, []);
      uow.products.add(product);
      product.addBatch(new Batch(ref, otherSku, 10, null));
      await uow.commit();
    });

    // The same error on PostgreSQL and on Citus (migration 20261127235100).
    await expect(run).to.be.rejectedWith(DuplicateBatch, `Batch ${ref} already exists`);
    expect(await db('products').where({ sku: otherSku }).select('sku')).to.deep.equal([]);
    expect(await db('batch_refs').where({ reference: ref }).select('sku')).to.deep.equal([{ sku }]);
  });

  it('keeps a batch from being over-allocated even if the domain were bypassed', async () => {
    const db = await testDb();
    const [sku, ref] = [randomSku(), randomBatchref()];
    await insertBatch(db, ref, sku, 5);

    const update = db('batches').where({ reference: ref }).update({ allocated_quantity: 6 });

    await expect(update).to.be.rejected.and.eventually.include({
      constraint: 'batches_not_over_allocated',
    });
  });
});
