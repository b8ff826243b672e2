import { expect } from 'chai';
import { bootstrap } from '../../src/allocation/bootstrap';
import { Allocate, CreateBatch } from '../../src/allocation/domain/commands';
import { addMissingAllocationsToReadModel } from '../../src/allocation/adapters/read_model_repair';
import { allocations } from '../../src/allocation/views';
import { testDb } from '../db';
import { randomBatchref, randomOrderid, randomSku } from '../random_refs';
import { FakeNotifications, recordingPublisher, silentLogger } from '../unit/fakes';
import { insertBatch } from './uow_fixtures';

describe('contention', () => {
  it('32 concurrent writers on one sku all succeed, and none oversells', async () => {
    const db = await testDb();
    const { bus, close } = bootstrap({
      db,
      publish: recordingPublisher(),
      notifications: new FakeNotifications(),
      logger: silentLogger,
    });
    const [sku, ref] = [randomSku('hot'), randomBatchref()];
    await bus.handle(new CreateBatch(ref, sku, 20, null));
    const orderids = Array.from({ length: 32 }, (_, i) => randomOrderid(String(i)));

    const results = await Promise.allSettled(
      orderids.map((o) => bus.handle(new Allocate(o, sku, 1))),
    );
    await close();

    expect(results.filter((r) => r.status === 'rejected')).to.deep.equal([]);
    const refs = results.map((r) => (r as PromiseFulfilledResult<unknown>).value);
    expect(refs.filter((r) => r === ref)).to.have.length(20);
    expect(refs.filter((r) => r === undefined)).to.have.length(12);
    const batch = await db('batches').first('allocated_quantity').where({ reference: ref });
    expect(batch.allocated_quantity).to.equal(20);
  });

  it('start-up repair adds allocations missing from the read model', async () => {
    const db = await testDb();
    const [sku, ref, orderid] = [randomSku(), randomBatchref(), randomOrderid()];
    await insertBatch(db, ref, sku, 10);
    // an allocation committed by a process that died before its read-model handler ran
    const [line] = await db('order_lines').insert({ orderid, sku, qty: 2 }).returning('id');
    const batch = await db('batches').first('id').where({ reference: ref });
    await db('allocations').insert({ orderline_id: line.id, batch_id: batch.id });

    await addMissingAllocationsToReadModel(db);

    expect(await allocations(orderid, db)).to.deep.equal([{ sku, batchref: ref }]);
  });
});
