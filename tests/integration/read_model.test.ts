// The read model converges whatever order its events arrive in, however often, and whichever
// process delivers them (SPEC section 1). Each interleaving that once left it wrong, on its own.
import { expect } from 'chai';
import { createKnex } from '../../src/allocation/adapters/db';
import { bootstrap } from '../../src/allocation/bootstrap';
import * as config from '../../src/allocation/config';
import { Allocate, ChangeBatchQuantity, CreateBatch } from '../../src/allocation/domain/commands';
import { Allocated, Deallocated } from '../../src/allocation/domain/events';
import {
  addAllocationToReadModel,
  removeAllocationFromReadModel,
} from '../../src/allocation/service_layer/handlers';
import type { HandlerDeps } from '../../src/allocation/service_layer/messagebus';
import { allocations } from '../../src/allocation/views';
import { testDb } from '../support/db';
import { eventually } from '../support/eventually';
import { randomBatchref, randomOrderid, randomSku } from '../support/random_refs';
import { FakeNotifications, recordingPublisher, silentLogger } from '../unit/fakes';
import { newUow } from './uow_fixtures';

/** Runs a read-model handler as one process's relay would, on a unit of work of its own. */
async function deliver(
  handler: typeof addAllocationToReadModel | typeof removeAllocationFromReadModel,
  event: Allocated | Deallocated,
): Promise<void> {
  const deps: HandlerDeps = {
    uow: newUow(await testDb()),
    publish: recordingPublisher(),
    notifications: new FakeNotifications(),
    stockEmail: 'stock@example.com',
  };
  await (handler as (d: unknown[], deps: HandlerDeps) => Promise<void>)(
    [{ event, meta: { messageId: '1', correlationId: null } }],
    deps,
  );
}

describe('read model', () => {
  it('a delayed allocation cannot undo a later removal delivered by another process', async () => {
    const db = await testDb();
    const [sku, ref, orderid] = [randomSku(), randomBatchref(), randomOrderid()];

    await deliver(removeAllocationFromReadModel, new Deallocated(orderid, sku, 1, ref, 5));
    await deliver(addAllocationToReadModel, new Allocated(orderid, sku, 1, ref, 4));

    expect(await allocations(orderid, db)).to.deep.equal([]);
  });

  it('a repeated removal leaves the line that went back to the same batch', async () => {
    const db = await testDb();
    const [sku, ref, orderid] = [randomSku(), randomBatchref(), randomOrderid()];
    const freed = new Deallocated(orderid, sku, 1, ref, 3);
    await deliver(removeAllocationFromReadModel, freed);
    await deliver(addAllocationToReadModel, new Allocated(orderid, sku, 1, ref, 5));

    await deliver(removeAllocationFromReadModel, freed); // redelivered

    expect(await allocations(orderid, db)).to.deep.equal([{ sku, batchref: ref }]);
  });

  it('an update that fails is retried by the relay until it lands', async () => {
    const db = await testDb();
    // the service's own connections give up on a lock after 100 ms
    const impatient = createKnex(process.env.DATABASE_URL as string, 4, {
      ...config.dbLimits(),
      lockTimeoutMs: 100,
    });
    const service = bootstrap({
      db: impatient,
      publish: recordingPublisher(),
      notifications: new FakeNotifications(),
      logger: silentLogger,
    });
    try {
      const [sku, ref, orderid] = [randomSku(), randomBatchref(), randomOrderid()];
      await service.bus.handle(new CreateBatch(ref, sku, 10, null));
      await service.bus.handle(new Allocate(orderid, sku, 2));
      await eventually(async () =>
        expect(await allocations(orderid, db)).to.deep.equal([{ sku, batchref: ref }]),
      );
      const [other] = [randomBatchref('other')];
      await service.bus.handle(new CreateBatch(other, sku, 10, '2026-12-31'));

      // the row is locked while the line moves, so the first updates of it fail
      const blocker = await db.transaction();
      await blocker.raw('SELECT 1 FROM allocations_view WHERE orderid = ? FOR UPDATE', [orderid]);
      await service.bus.handle(new ChangeBatchQuantity(ref, 1));
      await eventually(async () => {
        await service.relay.deliverPending();
        const failed = await db('outbox')
          .where({ key: sku, handler: 'read_model' })
          .where('attempts', '>', 0);
        expect(failed).to.not.deep.equal([]);
      });
      await blocker.commit();

      await eventually(async () => {
        await service.relay.deliverPending();
        expect(await allocations(orderid, db)).to.deep.equal([{ sku, batchref: other }]);
      }, 20_000);
    } finally {
      await service.close();
      await impatient.destroy();
    }
  });
});
