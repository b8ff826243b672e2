import { expect } from 'chai';
import { bootstrap, type Service } from '../../src/allocation/bootstrap';
import { Allocate, ChangeBatchQuantity, CreateBatch } from '../../src/allocation/domain/commands';
import { Allocated, Deallocated } from '../../src/allocation/domain/events';
import {
  DuplicateBatch,
  InvalidSku,
  UnknownBatch,
} from '../../src/allocation/service_layer/errors';
import type { Chain } from '../../src/allocation/service_layer/messagebus';
import {
  addAllocationToReadModel,
  removeAllocationFromReadModel,
} from '../../src/allocation/service_layer/handlers';
import {
  FakeNotifications,
  FakeReadModel,
  FakeUnitOfWork,
  recordingPublisher,
  silentLogger,
} from './fakes';

function bootstrapTestApp(): {
  service: Service;
  uow: FakeUnitOfWork;
  notifications: FakeNotifications;
  publish: ReturnType<typeof recordingPublisher>;
} {
  const uow = new FakeUnitOfWork();
  const notifications = new FakeNotifications();
  const publish = recordingPublisher();
  const service = bootstrap({
    uow: (chain?: Chain) => uow.startedBy(chain),
    outbox: uow.outbox,
    notifications,
    publish,
    logger: silentLogger,
  });
  return { service, uow, notifications, publish };
}

/** Lets the relay run every event handler, and the handlers of the events those raise. */
async function settle(service: Service, uow: FakeUnitOfWork): Promise<void> {
  for (let round = 0; round < 10 && uow.outbox.pending().length > 0; round++) {
    await service.relay.deliverPending();
  }
}

describe('handlers', () => {
  describe('addBatch', () => {
    it('for a new product', async () => {
      const { service, uow } = bootstrapTestApp();

      await service.bus.handle(new CreateBatch('b1', 'CRUNCHY-ARMCHAIR', 100, null));

      expect(await uow.products.get('CRUNCHY-ARMCHAIR')).to.not.equal(undefined);
      expect(uow.committed).to.equal(true);
    });

    it('for an existing product', async () => {
      const { service, uow } = bootstrapTestApp();

      await service.bus.handle(new CreateBatch('b1', 'GARISH-RUG', 100, null));
      await service.bus.handle(new CreateBatch('b2', 'GARISH-RUG', 99, null));

      const product = await uow.products.get('GARISH-RUG');
      expect(product?.batches.map((b) => b.reference)).to.deep.equal(['b1', 'b2']);
    });

    it('errors for a duplicate ref of the same sku, and leaves the batch as it was', async () => {
      const { service, uow } = bootstrapTestApp();
      await service.bus.handle(new CreateBatch('b1', 'GARISH-RUG', 100, null));
      await service.bus.handle(new Allocate('o1', 'GARISH-RUG', 10));

      await expect(
        service.bus.handle(new CreateBatch('b1', 'GARISH-RUG', 5, null)),
      ).to.be.rejectedWith(DuplicateBatch, 'Batch b1 already exists');

      const [batch] = (await uow.products.get('GARISH-RUG'))?.batches ?? [];
      expect([batch.purchasedQuantity, batch.availableQuantity]).to.deep.equal([100, 90]);
    });

    it('errors for a duplicate ref', async () => {
      const { service } = bootstrapTestApp();
      await service.bus.handle(new CreateBatch('b1', 'GARISH-RUG', 100, null));

      await expect(service.bus.handle(new CreateBatch('b1', 'OTHER', 5, null))).to.be.rejectedWith(
        DuplicateBatch,
        /^Batch b1 already exists$/,
      );
    });
  });

  describe('allocate', () => {
    it('returns the allocation', async () => {
      const { service } = bootstrapTestApp();
      await service.bus.handle(new CreateBatch('batch1', 'COMPLICATED-LAMP', 100, null));

      const batchref = await service.bus.handle(new Allocate('o1', 'COMPLICATED-LAMP', 10));

      expect(batchref).to.equal('batch1');
    });

    it('errors for an invalid sku', async () => {
      const { service } = bootstrapTestApp();
      await service.bus.handle(new CreateBatch('b1', 'AREALSKU', 100, null));

      await expect(service.bus.handle(new Allocate('o1', 'NONEXISTENTSKU', 10))).to.be.rejectedWith(
        InvalidSku,
        /^Invalid sku NONEXISTENTSKU$/,
      );
    });

    it('commits', async () => {
      const { service, uow } = bootstrapTestApp();
      await service.bus.handle(new CreateBatch('b1', 'OMINOUS-MIRROR', 100, null));
      uow.committed = false;

      await service.bus.handle(new Allocate('o1', 'OMINOUS-MIRROR', 10));

      expect(uow.committed).to.equal(true);
    });

    it('updates the read model', async () => {
      const { service, uow } = bootstrapTestApp();
      await service.bus.handle(new CreateBatch('b1', 'OMINOUS-MIRROR', 100, null));

      await service.bus.handle(new Allocate('o1', 'OMINOUS-MIRROR', 10));
      await settle(service, uow);

      expect(uow.readModel.rows.get('o1/OMINOUS-MIRROR')).to.equal('b1');
    });

    it('sends email on out of stock', async () => {
      const { service, notifications } = bootstrapTestApp();
      await service.bus.handle(new CreateBatch('b1', 'POPULAR-CURTAINS', 9, null));

      const batchref = await service.bus.handle(new Allocate('o1', 'POPULAR-CURTAINS', 10));
      await service.relay.deliverPending();

      expect(batchref).to.equal(undefined);
      expect(notifications.sent.get('stock@example.com')).to.deep.equal([
        'Out of stock for POPULAR-CURTAINS',
      ]);
    });

    it('sends one email per stock-out, and one more once the sku had stock again', async () => {
      const { service, notifications } = bootstrapTestApp();
      await service.bus.handle(new CreateBatch('b1', 'SOFA', 1, null));
      await service.bus.handle(new Allocate('o1', 'SOFA', 1));

      for (const order of ['o2', 'o3', 'o4'])
        await service.bus.handle(new Allocate(order, 'SOFA', 1));
      await service.bus.handle(new CreateBatch('b2', 'SOFA', 1, null));
      for (const order of ['o5', 'o6', 'o7'])
        await service.bus.handle(new Allocate(order, 'SOFA', 1));
      await service.relay.deliverPending();

      expect(notifications.sent.get('stock@example.com')).to.deep.equal([
        'Out of stock for SOFA',
        'Out of stock for SOFA',
      ]);
    });

    it('publishes line_allocated through the outbox after commit', async () => {
      const { service, publish } = bootstrapTestApp();
      await service.bus.handle(new CreateBatch('b1', 'RED-CHAIR', 10, null));

      await service.bus.handle(new Allocate('o1', 'RED-CHAIR', 10));
      await service.relay.deliverPending();

      expect(publish.published.map((p) => [p.channel, p.event])).to.deep.equal([
        ['line_allocated', new Allocated('o1', 'RED-CHAIR', 10, 'b1', 2)],
      ]);
    });
  });

  describe('changeBatchQuantity', () => {
    it('changes the available quantity', async () => {
      const { service, uow } = bootstrapTestApp();
      await service.bus.handle(new CreateBatch('batch1', 'ADORABLE-SETTEE', 100, null));

      await service.bus.handle(new ChangeBatchQuantity('batch1', 50));

      const [batch] = (await uow.products.get('ADORABLE-SETTEE'))?.batches ?? [];
      expect(batch.availableQuantity).to.equal(50);
    });

    it('reallocates if necessary', async () => {
      const { service, uow } = bootstrapTestApp();
      await service.bus.handle(new CreateBatch('batch1', 'INDIFFERENT-TABLE', 50, null));
      await service.bus.handle(new CreateBatch('batch2', 'INDIFFERENT-TABLE', 50, '2026-12-01'));
      await service.bus.handle(new Allocate('order1', 'INDIFFERENT-TABLE', 20));
      await service.bus.handle(new Allocate('order2', 'INDIFFERENT-TABLE', 20));
      const [batch1, batch2] = (await uow.products.get('INDIFFERENT-TABLE'))?.batches ?? [];
      expect([batch1.availableQuantity, batch2.availableQuantity]).to.deep.equal([10, 50]);

      await service.bus.handle(new ChangeBatchQuantity('batch1', 25));
      await settle(service, uow); // reallocate runs from the outbox, after the commit

      // order2 (the newest) is freed and reallocated to batch2
      expect([batch1.availableQuantity, batch2.availableQuantity]).to.deep.equal([5, 30]);
      expect(uow.readModel.rows.get('order2/INDIFFERENT-TABLE')).to.equal('batch2');
    });

    it('does not lose a freed line when its reallocation fails once', async () => {
      const { service, uow } = bootstrapTestApp();
      await service.bus.handle(new CreateBatch('batch1', 'LAMP', 10, null));
      await service.bus.handle(new CreateBatch('batch2', 'LAMP', 10, '2026-12-01'));
      await service.bus.handle(new Allocate('order1', 'LAMP', 10));
      const get = uow.products.get.bind(uow.products);
      let failOnce = true;
      uow.products.get = async (sku: string) => {
        if (failOnce) {
          failOnce = false;
          throw new Error('database went away');
        }
        return get(sku);
      };

      await service.bus.handle(new ChangeBatchQuantity('batch1', 5));
      await service.relay.deliverPending(); // the reallocation fails: the event stays pending
      await settle(service, uow); // and is handled again

      expect(uow.readModel.rows.get('order1/LAMP')).to.equal('batch2');
    });

    it('handling a freed line again leaves its new read-model row alone', async () => {
      const { service, uow } = bootstrapTestApp();
      await service.bus.handle(new CreateBatch('batch1', 'LAMP', 10, null));
      await service.bus.handle(new CreateBatch('batch2', 'LAMP', 10, '2026-12-01'));
      await service.bus.handle(new Allocate('order1', 'LAMP', 10));
      await service.bus.handle(new ChangeBatchQuantity('batch1', 5));
      await settle(service, uow);
      const freed = uow.outbox.messages.find((m) => m.event instanceof Deallocated);

      uow.outbox.append('LAMP', freed?.event as Deallocated); // a redelivery
      await settle(service, uow);

      expect(uow.readModel.rows.get('order1/LAMP')).to.equal('batch2');
    });

    it('a late allocation cannot bring back a line its removal came after', () => {
      const readModel = new FakeReadModel();

      removeAllocationFromReadModel(
        [new Deallocated('order1', 'LAMP', 10, 'batch1', 5)],
        readModel,
      );
      addAllocationToReadModel([new Allocated('order1', 'LAMP', 10, 'batch1', 4)], readModel);

      expect(readModel.rows.get('order1/LAMP')).to.equal(null);
    });

    it('errors for an unknown batch', async () => {
      const { service } = bootstrapTestApp();

      await expect(service.bus.handle(new ChangeBatchQuantity('nope', 5))).to.be.rejectedWith(
        UnknownBatch,
      );
    });

    it('frees only as many lines as it must, newest first', async () => {
      const { service, uow } = bootstrapTestApp();
      await service.bus.handle(new CreateBatch('batch1', 'RUG', 10, null));
      for (const order of ['o1', 'o2', 'o3', 'o4', 'o5']) {
        await service.bus.handle(new Allocate(order, 'RUG', 2));
      }

      await service.bus.handle(new ChangeBatchQuantity('batch1', 5));

      const freed = uow.outbox.messages.filter(
        (m) => m.event instanceof Deallocated && m.handler === 'reallocate',
      );
      expect(freed.map((m) => (m.event as Deallocated).orderid)).to.deep.equal(['o5', 'o4', 'o3']);
    });

    it('applies a message id once', async () => {
      const { service, uow } = bootstrapTestApp();
      await service.bus.handle(new CreateBatch('batch1', 'LAMP', 100, null));
      await service.bus.handle(new ChangeBatchQuantity('batch1', 50, 'm-1'));
      await service.bus.handle(new ChangeBatchQuantity('batch1', 80));

      await service.bus.handle(new ChangeBatchQuantity('batch1', 50, 'm-1'));

      const [batch] = (await uow.products.get('LAMP'))?.batches ?? [];
      expect(batch.purchasedQuantity).to.equal(80);
    });
  });

  describe('history', () => {
    it('tells an allocation moved by a quantity change, each entry with its cause', async () => {
      const { service, uow } = bootstrapTestApp();
      const http = (id: string): Chain => ({ cause: { kind: 'http', id } });
      await service.bus.handle(new CreateBatch('A', 'DESK', 10, null), http('r0'));
      await service.bus.handle(new CreateBatch('B', 'DESK', 10, '2027-01-01'), http('r0'));
      await service.bus.handle(new Allocate('o1', 'DESK', 5), http('r1'));

      await service.bus.handle(new ChangeBatchQuantity('A', 1, 'm1'), {
        cause: { kind: 'message', id: 'm1' },
      });
      await settle(service, uow);

      const ofOrder = uow.history
        .filter((row) => row.orderid === 'o1')
        .map((row) => [row.type, row.batchref, row.cause_kind, row.cause_id]);
      expect(ofOrder).to.deep.equal([
        ['allocated', 'A', 'http', 'r1'],
        ['deallocated', 'A', 'message', 'm1'],
        ['allocated', 'B', 'message', 'm1'],
      ]);
      const versions = uow.history.filter((row) => row.orderid === 'o1').map((r) => r.version);
      expect(versions).to.deep.equal([...versions].sort((a, b) => a - b));
      expect(uow.history.find((row) => row.type === 'quantity_changed')).to.include({
        from: 10,
        to: 1,
        cause_id: 'm1',
      });
    });

    it('tells every refusal, notified or not', async () => {
      const { service, uow } = bootstrapTestApp();
      await service.bus.handle(new CreateBatch('b1', 'STOOL', 1, null));

      await service.bus.handle(new Allocate('o1', 'STOOL', 2));
      await service.bus.handle(new Allocate('o2', 'STOOL', 2));

      expect(uow.history.map((row) => [row.type, row.orderid])).to.deep.equal([
        ['batch_created', null],
        ['out_of_stock', 'o1'],
        ['out_of_stock', 'o2'],
      ]);
    });
  });
});
