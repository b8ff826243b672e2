import { expect } from 'chai';
import { bootstrap } from '../../src/allocation/bootstrap';
import { Allocate, CreateBatch } from '../../src/allocation/domain/commands';
import { testDb } from '../support/db';
import { randomBatchref, randomOrderid, randomSku } from '../support/random_refs';
import { FakeNotifications, recordingPublisher, silentLogger } from '../unit/fakes';

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
});
