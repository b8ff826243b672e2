// Allocations waiting for one sku are applied together in one unit of work
// (service_layer/command_batches.ts): each must get the answer the domain gives it alone, in
// arrival order, and the outbox must say the same as it would for one unit per allocation.
import { expect } from 'chai';
import { bootstrap } from '../../src/allocation/bootstrap';
import { Allocate, CreateBatch } from '../../src/allocation/domain/commands';
import { Batch, OrderLine, Product } from '../../src/allocation/domain/model';
import { testDb } from '../support/db';
import { randomBatchref, randomOrderid, randomSku } from '../support/random_refs';
import { FakeNotifications, recordingPublisher, silentLogger } from '../unit/fakes';

function start() {
  return testDb().then((db) => ({
    ...bootstrap({
      db,
      publish: recordingPublisher(),
      notifications: new FakeNotifications(),
      logger: silentLogger,
    }),
    db,
  }));
}

interface OutboxRow {
  type: string;
  payload: { orderid?: string; batchref?: string };
  correlation_id: string | null;
  created_at: Date;
}

describe('allocations batched per sku', () => {
  it('32 concurrent allocations get what the domain gives each alone, in arrival order', async () => {
    const { db, bus, close } = await start();
    const sku = randomSku('batched');
    const [warehouse, shipment] = [randomBatchref('w'), randomBatchref('s')];
    await bus.handle(new CreateBatch(warehouse, sku, 20, null));
    await bus.handle(new CreateBatch(shipment, sku, 15, '2031-01-01'));
    // quantities 1..5: the warehouse runs out part-way, then the shipment, and some orders
    // that come after a refused larger one still fit
    const cmds = Array.from(
      { length: 32 },
      (_, i) => new Allocate(randomOrderid(String(i)), sku, (i % 5) + 1),
    );
    const answers = await Promise.all(
      cmds.map((cmd, i) =>
        bus.handle(cmd, {
          correlationId: `request-${i}`,
          cause: { kind: 'http', id: `request-${i}` },
        }),
      ),
    );
    const outbox: OutboxRow[] = await db('outbox')
      .where({ key: sku, type: 'Allocated' })
      .select('type', 'payload', 'correlation_id', 'created_at');
    const history: { orderid: string; cause_id: string }[] = await db('history')
      .where({ sku, type: 'allocated' })
      .select('orderid', 'cause_id');
    const batches = await db('batches')
      .where({ sku })
      .select('reference', 'purchased_quantity', 'allocated_quantity');
    await close();

    const alone = new Product(sku, [
      new Batch(warehouse, sku, 20, null),
      new Batch(shipment, sku, 15, '2031-01-01'),
    ]);
    const expected = cmds.map((c) => alone.allocate(new OrderLine(c.orderid, sku, c.qty)));
    expect(answers).to.deep.equal(expected);
    expect(expected.filter((ref) => ref === undefined)).to.not.have.length(0); // some refused
    for (const b of batches) {
      const domainBatch = alone.batches.find((x) => x.reference === b.reference) as Batch;
      expect(b.allocated_quantity).to.equal(domainBatch.allocatedQuantity);
      expect(b.allocated_quantity).to.be.at.most(b.purchased_quantity);
    }
    // one event per allocation, each with its own request's correlation id
    const allocated = cmds.flatMap((c, i) => (expected[i] ? [[c.orderid, `request-${i}`]] : []));
    expect(outbox.map((r) => [r.payload.orderid, r.correlation_id])).to.have.deep.members(
      allocated,
    );
    // and one history row per allocation, naming its own request
    expect(history.map((r) => [r.orderid, r.cause_id])).to.have.deep.members(allocated);
    // and they were applied together: the first alone, the 31 that queued behind it in one unit
    expect(new Set(outbox.map((r) => r.created_at.getTime())).size).to.equal(2);
  });

  it('a repeated (orderid, sku) inside one batch is allocated once', async () => {
    const { db, bus, close } = await start();
    const [sku, ref] = [randomSku('batched'), randomBatchref()];
    await bus.handle(new CreateBatch(ref, sku, 10, null));
    const [first, repeated, other] = ['a', 'b', 'c'].map((s) => randomOrderid(s));
    // the first holds the sku; the rest queue behind it and go in one unit
    const answers = await Promise.all([
      bus.handle(new Allocate(first, sku, 1)),
      bus.handle(new Allocate(repeated, sku, 3)),
      bus.handle(new Allocate(repeated, sku, 3)),
      bus.handle(new Allocate(other, sku, 2)),
      bus.handle(new Allocate(repeated, sku, 3)),
    ]);
    const events: OutboxRow[] = await db('outbox').where({ key: sku, type: 'Allocated' });
    const batch = await db('batches').first('allocated_quantity').where({ reference: ref });
    await close();

    expect(answers).to.deep.equal([ref, ref, ref, ref, ref]);
    expect(events.map((e) => e.payload.orderid)).to.have.members([first, repeated, other]);
    expect(batch.allocated_quantity).to.equal(1 + 3 + 2);
  });

  it('an invalid sku is refused for every command of its batch', async () => {
    const { bus, close } = await start();
    const sku = randomSku('missing');
    const results = await Promise.allSettled(
      [1, 2, 3].map((i) => bus.handle(new Allocate(randomOrderid(String(i)), sku, 1))),
    );
    await close();
    expect(results.map((r) => r.status)).to.deep.equal(['rejected', 'rejected', 'rejected']);
    for (const r of results) {
      expect((r as PromiseRejectedResult).reason.constructor.name).to.equal('InvalidSku');
    }
  });
});
