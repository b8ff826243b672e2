// The read model converges whatever the interleaving (SPEC section 1): its rows are written by
// inline handlers in the very commit of the change, so a race, a failed write or a redelivery
// cannot leave it disagreeing with the write side. Each case that once did, on its own.
import { expect } from 'chai';
import type { Knex } from 'knex';
import type pg from 'pg';
import { createPool } from '../../src/allocation/adapters/postgres/db';
import { bootstrap, type Service } from '../../src/allocation/bootstrap';
import * as config from '../../src/allocation/config';
import { Allocate, ChangeBatchQuantity, CreateBatch } from '../../src/allocation/domain/commands';
import { OrderLine } from '../../src/allocation/domain/model';
import { ConcurrencyError, Unavailable } from '../../src/allocation/service_layer/errors';
import { allocations } from '../../src/allocation/views';
import { testDb, testPool } from '../support/db';
import { eventually } from '../support/eventually';
import { randomBatchref, randomOrderid, randomSku } from '../support/random_refs';
import { FakeNotifications, recordingPublisher, silentLogger } from '../unit/fakes';
import { allocatedBatchref, insertBatch, newUow } from './uow_fixtures';

/** What the write side says of the order's line, and what the read model shows for it. */
async function bothSides(db: Knex, orderid: string, sku: string) {
  const view = await allocations(orderid, await testPool());
  return {
    write: (await allocatedBatchref(db, orderid, sku)) ?? null,
    read: view[0]?.batchref ?? null,
  };
}

function service(db: Knex, pool?: pg.Pool): Service {
  return bootstrap({
    db,
    pool,
    publish: recordingPublisher(),
    notifications: new FakeNotifications(),
    logger: silentLogger,
  });
}

describe('read model', () => {
  it('an allocation that loses a race writes no read-model row', async () => {
    const db = await testDb();
    const [sku, ref, o1, o2] = [randomSku(), randomBatchref(), randomOrderid(), randomOrderid()];
    await insertBatch(db, ref, sku, 10);
    let loaded = 0;
    const bothLoaded = new Promise<void>((resolve) => {
      const check = setInterval(() => loaded === 2 && (clearInterval(check), resolve()), 5);
    });
    const tryToAllocate = async (orderid: string) => {
      const uow = newUow(await testPool());
      await uow.run(async () => {
        const product = await uow.products.get(sku, { orderids: [orderid] });
        product?.allocate(new OrderLine(orderid, sku, 1));
        loaded += 1;
        await bothLoaded;
        await uow.commit();
      });
    };

    const results = await Promise.allSettled([tryToAllocate(o1), tryToAllocate(o2)]);

    const lost = results.findIndex((r) => r.status === 'rejected');
    expect((results[lost] as PromiseRejectedResult).reason).to.be.instanceOf(ConcurrencyError);
    const [winner, loser] = lost === 0 ? [o2, o1] : [o1, o2];
    expect(await bothSides(db, winner, sku)).to.deep.equal({ write: ref, read: ref });
    expect(await bothSides(db, loser, sku)).to.deep.equal({ write: null, read: null });
  });

  it('a read-model write that fails fails its change too, and a retry brings both', async () => {
    const db = await testDb();
    // the service's own connections give up on a lock after 100 ms
    const impatient = createPool(process.env.DATABASE_URL as string, 4, {
      ...config.dbLimits(),
      lockTimeoutMs: 100,
    });
    const { bus, close } = service(db, impatient);
    try {
      await failThenRetry(db, bus);
    } finally {
      await close();
      await impatient.end();
    }
  });

  it('a redelivered reallocation leaves the line that went back to its batch alone', async () => {
    const db = await testDb();
    const s = service(db);
    try {
      await redeliverAfterReturn(db, s);
    } finally {
      await s.close();
    }
  });
});

/** Frees a line while its read-model row is locked: the change fails whole, then goes through. */
async function failThenRetry(db: Knex, bus: Service['bus']): Promise<void> {
  const [sku, ref, other, orderid] = [
    randomSku(),
    randomBatchref(),
    randomBatchref(),
    randomOrderid(),
  ];
  await bus.handle(new CreateBatch(ref, sku, 10, null));
  await bus.handle(new CreateBatch(other, sku, 10, '2026-12-31'));
  await bus.handle(new Allocate(orderid, sku, 2));

  const blocker = await db.transaction();
  await blocker.raw('SELECT 1 FROM allocations_view WHERE orderid = ? FOR UPDATE', [orderid]);
  const failed = await bus.handle(new ChangeBatchQuantity(ref, 1)).catch((error: unknown) => error);
  const during = await bothSides(db, orderid, sku);
  await blocker.commit();
  await bus.handle(new ChangeBatchQuantity(ref, 1));

  expect(failed).to.be.instanceOf(Unavailable);
  expect(during).to.deep.equal({ write: ref, read: ref });
  await eventually(async () =>
    expect(await bothSides(db, orderid, sku)).to.deep.equal({ write: other, read: other }),
  );
}

/** A line freed, allocated again to the same batch, then its old reallocation redelivered. */
async function redeliverAfterReturn(db: Knex, s: Service): Promise<void> {
  const [sku, ref, orderid] = [randomSku(), randomBatchref(), randomOrderid()];
  await s.bus.handle(new CreateBatch(ref, sku, 10, null));
  await s.bus.handle(new Allocate(orderid, sku, 10));
  await s.bus.handle(new ChangeBatchQuantity(ref, 5)); // frees the line: nowhere else to go
  await eventually(async () => {
    await s.relay.deliverPending();
    const pending = await db('outbox').where({ key: sku }).whereNull('delivered_at');
    expect(pending).to.deep.equal([]);
  });
  await s.bus.handle(new ChangeBatchQuantity(ref, 10));
  await s.bus.handle(new Allocate(orderid, sku, 10)); // the line goes back to the same batch

  await db('outbox').where({ key: sku, handler: 'reallocate' }).update({ delivered_at: null });
  await eventually(async () => {
    await s.relay.deliverPending();
    const pending = await db('outbox').where({ key: sku }).whereNull('delivered_at');
    expect(pending).to.deep.equal([]);
  });

  expect(await bothSides(db, orderid, sku)).to.deep.equal({ write: ref, read: ref });
}
