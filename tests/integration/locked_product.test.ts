// SPEC section 10, third edition: a product held elsewhere (a long quantity change, a stuck
// transaction) delays only the commands on that product. Units of work that commit in the same
// turn share one statement (group commit); one of them on a product whose row another
// connection holds must not hold the others back.
import { expect } from 'chai';
import { OrderLine } from '../../src/allocation/domain/model';
import { testDb, testPool } from '../support/db';
import { randomBatchref, randomOrderid, randomSku } from '../support/random_refs';
import { allocatedBatchref, insertBatch, newUow, sharedGroupCommit } from './uow_fixtures';

describe('a product locked elsewhere', () => {
  it('holds back only its own commit, not the others committed in the same turn', async () => {
    const [db, pool] = [await testDb(), await testPool()];
    // The held product sorts in the middle of its group: groups lock rows in sku order.
    const held = randomSku('m-held');
    const others = [randomSku('a'), randomSku('b'), randomSku('y'), randomSku('z')];
    const orders = new Map([held, ...others].map((sku) => [sku, randomOrderid()]));
    const refs = new Map([held, ...others].map((sku) => [sku, randomBatchref()]));
    for (const sku of orders.keys()) await insertBatch(db, refs.get(sku) as string, sku, 10);
    const group = sharedGroupCommit(pool);
    let loaded = 0;
    let allLoaded!: () => void;
    const everyoneLoaded = new Promise<void>((resolve) => (allLoaded = resolve));
    const allocate = async (sku: string): Promise<void> => {
      const uow = newUow(pool, { groupCommit: group });
      const orderid = orders.get(sku) as string;
      await uow.run(async () => {
        const product = await uow.products.get(sku, { orderids: [orderid] });
        product?.allocate(new OrderLine(orderid, sku, 1));
        // all commit in one turn of the event loop, so in one group
        if (++loaded === orders.size) allLoaded();
        await everyoneLoaded;
        await uow.commit();
      });
    };
    const happened: string[] = [];
    const recorded = (name: string, commit: Promise<void>) =>
      commit.then(
        () => happened.push(`${name} committed`),
        (error: Error) => happened.push(`${name} failed: ${error.message}`),
      );

    const blocker = await db.transaction();
    let answered: Promise<unknown>[];
    try {
      await blocker.raw('SELECT 1 FROM products WHERE sku = ? FOR UPDATE', [held]);
      const heldDone = recorded('held', allocate(held));
      const othersDone = Promise.all(others.map((sku) => recorded('other', allocate(sku))));
      answered = [heldDone, othersDone];
      // No clock: whichever comes first, the others' answers or the held one's (which can
      // only be a failure while the row is held: its lock wait timing out).
      await Promise.race(answered);
      happened.push('released');
    } finally {
      await blocker.rollback();
    }
    await Promise.all(answered);

    expect(happened).to.deep.equal([
      ...others.map(() => 'other committed'),
      'released',
      'held committed',
    ]);
    for (const [sku, orderid] of orders) {
      expect(await allocatedBatchref(db, orderid, sku)).to.equal(refs.get(sku));
    }
  });
});
