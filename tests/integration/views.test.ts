import { expect } from 'chai';
import type { Knex } from 'knex';
import { bootstrap } from '../../src/allocation/bootstrap';
import type { MessageBus } from '../../src/allocation/service_layer/messagebus';
import type { OutboxRelay } from '../../src/allocation/service_layer/outbox';
import { Allocate, ChangeBatchQuantity, CreateBatch } from '../../src/allocation/domain/commands';
import { createPool } from '../../src/allocation/adapters/postgres/db';
import { allocations, batchedAllocations } from '../../src/allocation/views';
import { FakeNotifications, recordingPublisher, silentLogger } from '../unit/fakes';
import { testDb, testPool } from '../support/db';
import { eventually } from '../support/eventually';
import { randomBatchref, randomOrderid, randomSku } from '../support/random_refs';

describe('views', () => {
  // One service for the file: a second relay could deliver this file's messages to its own
  // recorder.
  const publish = recordingPublisher();
  let shared:
    Promise<{ db: Knex; bus: MessageBus; relay: OutboxRelay; close(): Promise<void> }> | undefined;
  after(async () => {
    if (shared) await (await shared).close();
  });
  function service() {
    shared ??= testDb().then((db) => {
      const { bus, relay, close } = bootstrap({
        db,
        publish,
        notifications: new FakeNotifications(),
        logger: silentLogger,
      });
      return { db, bus, relay, close };
    });
    return shared;
  }

  it('reads allocations written to the read model through the bus', async () => {
    const { bus } = await service();
    const [sku1, sku2, b1, b2, b3] = [
      randomSku(),
      randomSku(),
      randomBatchref(),
      randomBatchref(),
      randomBatchref(),
    ];
    const orderid = randomOrderid();
    await bus.handle(new CreateBatch(b1, sku1, 50, null));
    await bus.handle(new CreateBatch(b2, sku2, 50, '2026-12-01'));
    await bus.handle(new Allocate(orderid, sku1, 20));
    await bus.handle(new Allocate(orderid, sku2, 20));
    // an unrelated allocation, to check the view filters by order
    await bus.handle(new CreateBatch(b3, sku1, 50, '2026-12-02'));
    await bus.handle(new Allocate(randomOrderid('other'), sku1, 30));

    // the read model is written by the relay, after the commits
    await eventually(async () =>
      expect(await allocations(orderid, await testPool())).to.have.deep.members([
        { sku: sku1, batchref: b1 },
        { sku: sku2, batchref: b2 },
      ]),
    );
  });

  it('follows a reallocation', async () => {
    const { bus, relay } = await service();
    const [sku, b1, b2, orderid] = [
      randomSku(),
      randomBatchref(),
      randomBatchref(),
      randomOrderid(),
    ];
    await bus.handle(new CreateBatch(b1, sku, 50, null));
    await bus.handle(new CreateBatch(b2, sku, 50, '2026-12-01'));
    await bus.handle(new Allocate(orderid, sku, 20));

    await bus.handle(new ChangeBatchQuantity(b1, 10));

    // Deallocated reaches its handlers through the outbox relay (kicked after each commit)
    await eventually(async () => {
      await relay.deliverPending();
      expect(await allocations(orderid, await testPool())).to.deep.equal([{ sku, batchref: b2 }]);
      const mine = publish.published.filter((p) => (p.event as { sku: string }).sku === sku);
      expect(mine.map((p) => (p.event as { batchref: string }).batchref)).to.deep.equal([b1, b2]);
    });
  });

  it('has nothing for an unknown order', async () => {
    expect(await allocations(randomOrderid(), await testPool())).to.deep.equal([]);
  });

  describe('reads batched into one statement', () => {
    it('gives each read its own order, whatever else was asked with it', async () => {
      const db = await testDb();
      // more orders than one statement takes (100), so the reads are split over several
      const orders = Array.from({ length: 250 }, () => randomOrderid('batched'));
      const [later, earlier] = [randomSku('b'), randomSku('a')]; // each order's rows come by sku
      const rows = orders.flatMap((orderid, i) => [
        { orderid, sku: later, batchref: `ref-a-${i}` },
        ...(i % 2 === 0 ? [{ orderid, sku: earlier, batchref: `ref-b-${i}` }] : []),
      ]);
      // a removed line (batchref null) is not an allocation
      rows.push({ orderid: orders[1], sku: earlier, batchref: null as unknown as string });
      await db('allocations_view').insert(rows);
      const read = batchedAllocations(await testPool());
      const unknown = randomOrderid('none');

      const asked = [...orders, unknown, orders[7], orders[0]];
      const answers = await Promise.all(asked.map((orderid) => read(orderid)));

      const expected = (i: number) =>
        i % 2 === 0
          ? [
              { sku: earlier, batchref: `ref-b-${i}` },
              { sku: later, batchref: `ref-a-${i}` },
            ]
          : [{ sku: later, batchref: `ref-a-${i}` }];
      orders.forEach((_, i) => expect(answers[i]).to.deep.equal(expected(i)));
      expect(answers[250]).to.deep.equal([]);
      expect(answers[251]).to.deep.equal(expected(7));
      expect(answers[252]).to.deep.equal(expected(0));
    });

    it('fails every read of a statement that fails', async () => {
      const pool = createPool(process.env.DATABASE_URL as string, 2);
      const read = batchedAllocations(pool);
      const orderid = randomOrderid();
      await pool.end(); // no connection can be acquired any more

      const results = await Promise.allSettled([read(orderid), read(randomOrderid())]);

      expect(results.map((result) => result.status)).to.deep.equal(['rejected', 'rejected']);
    });
  });
});
