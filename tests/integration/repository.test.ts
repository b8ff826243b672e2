import { expect } from 'chai';
import { Batch, OrderLine, Product } from '../../src/allocation/domain/model';
import { testPool } from '../support/db';
import { randomBatchref, randomOrderid, randomSku } from '../support/random_refs';
import { newUow } from './uow_fixtures';

describe('repository', () => {
  it('round-trips a product with batches and allocations', async () => {
    const pool = await testPool();
    const [sku, b1, b2, o1] = [
      randomSku(),
      randomBatchref('1'),
      randomBatchref('2'),
      randomOrderid(),
    ];
    const product = new Product(sku, [
      new Batch(b1, sku, 100, null),
      new Batch(b2, sku, 50, '2026-12-24'),
    ]);
    product.allocate(new OrderLine(o1, sku, 12));

    const uow = newUow(pool);
    await uow.run(async () => {
      uow.products.add(product);
      await uow.commit();
    });
    const reader = newUow(pool);
    const loaded = await reader.run(() => reader.products.get(sku, { orderids: [o1] }));

    expect(loaded?.versionNumber).to.equal(1);
    expect(
      loaded?.batches.map((b) => [b.reference, b.eta, b.purchasedQuantity, b.availableQuantity]),
    ).to.have.deep.members([
      [b1, null, 100, 88],
      [b2, '2026-12-24', 50, 50],
    ]);
    const first = loaded?.batches.find((b) => b.reference === b1);
    expect(first?.allocations).to.deep.equal([new OrderLine(o1, sku, 12)]);
  });

  it('loads only the line of the order being allocated', async () => {
    const pool = await testPool();
    const [sku, ref] = [randomSku(), randomBatchref()];
    const product = new Product(sku, [new Batch(ref, sku, 100, null)]);
    for (const orderid of ['o1', 'o2', 'o3']) product.allocate(new OrderLine(orderid, sku, 1));
    const uow = newUow(pool);
    await uow.run(async () => {
      uow.products.add(product);
      await uow.commit();
    });

    const loaded = await uow.run(() => uow.products.get(sku, { orderids: ['o2'] }));

    expect(loaded?.batches[0].allocations.map((l) => l.orderid)).to.deep.equal(['o2']);
    expect(loaded?.batches[0].allocatedQuantity).to.equal(3);
  });

  it('loads only the newest lines a quantity change frees', async () => {
    const pool = await testPool();
    const [sku, ref] = [randomSku(), randomBatchref()];
    const product = new Product(sku, [new Batch(ref, sku, 100, null)]);
    for (const orderid of ['o1', 'o2', 'o3', 'o4'])
      product.allocate(new OrderLine(orderid, sku, 5));
    const uow = newUow(pool);
    await uow.run(async () => {
      uow.products.add(product);
      await uow.commit();
    });

    const loaded = await uow.run(() => uow.products.getForQuantityChange(ref, 12));

    expect(loaded?.batches[0].allocations.map((l) => l.orderid)).to.deep.equal(['o3', 'o4']);
    expect(loaded?.batches[0].allocatedQuantity).to.equal(20);
  });

  it('returns undefined for an unknown sku', async () => {
    const uow = newUow(await testPool());

    expect(await uow.run(() => uow.products.get(randomSku()))).to.equal(undefined);
  });
});
