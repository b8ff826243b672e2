import { expect } from 'chai';
import {
  Allocated,
  BatchCreated,
  BatchQuantityChanged,
  Deallocated,
  OutOfStock,
  StillOutOfStock,
} from '../../src/allocation/domain/events';
import { Batch, OrderLine, Product } from '../../src/allocation/domain/model';

const TODAY = '2026-11-21';
const TOMORROW = '2026-11-22';
const LATER = '2026-12-01';

describe('product', () => {
  it('prefers warehouse batches to shipments', () => {
    const inStock = new Batch('in-stock-batch', 'RETRO-CLOCK', 100, null);
    const shipment = new Batch('shipment-batch', 'RETRO-CLOCK', 100, TOMORROW);
    const product = new Product('RETRO-CLOCK', [shipment, inStock]);

    product.allocate(new OrderLine('oref', 'RETRO-CLOCK', 10));

    expect(inStock.availableQuantity).to.equal(90);
    expect(shipment.availableQuantity).to.equal(100);
  });

  it('prefers earlier batches', () => {
    const earliest = new Batch('speedy-batch', 'MINIMALIST-SPOON', 100, TODAY);
    const medium = new Batch('normal-batch', 'MINIMALIST-SPOON', 100, TOMORROW);
    const latest = new Batch('slow-batch', 'MINIMALIST-SPOON', 100, LATER);
    const product = new Product('MINIMALIST-SPOON', [latest, medium, earliest]);

    product.allocate(new OrderLine('order1', 'MINIMALIST-SPOON', 10));

    expect(earliest.availableQuantity).to.equal(90);
    expect(medium.availableQuantity).to.equal(100);
    expect(latest.availableQuantity).to.equal(100);
  });

  it('skips a preferred batch that cannot take the whole line', () => {
    const small = new Batch('small-batch', 'LAMP', 5, null);
    const shipment = new Batch('shipment-batch', 'LAMP', 100, TOMORROW);
    const product = new Product('LAMP', [small, shipment]);

    const ref = product.allocate(new OrderLine('order1', 'LAMP', 10));

    expect(ref).to.equal('shipment-batch');
    expect(small.availableQuantity).to.equal(5);
  });

  it('returns the allocated batch ref', () => {
    const inStock = new Batch('in-stock-batch-ref', 'HIGHBROW-POSTER', 100, null);
    const shipment = new Batch('shipment-batch-ref', 'HIGHBROW-POSTER', 100, TOMORROW);
    const product = new Product('HIGHBROW-POSTER', [inStock, shipment]);

    const allocation = product.allocate(new OrderLine('oref', 'HIGHBROW-POSTER', 10));

    expect(allocation).to.equal(inStock.reference);
  });

  it('records an Allocated event', () => {
    const product = new Product('LAMP', [new Batch('b1', 'LAMP', 10, null)]);

    product.allocate(new OrderLine('o1', 'LAMP', 3));

    expect(product.events).to.deep.equal([new Allocated('o1', 'LAMP', 3, 'b1', 1)]);
  });

  it('records OutOfStock if it cannot allocate', () => {
    const product = new Product('SMALL-FORK', [new Batch('batch1', 'SMALL-FORK', 10, null)]);
    product.allocate(new OrderLine('order1', 'SMALL-FORK', 10));

    const allocation = product.allocate(new OrderLine('order2', 'SMALL-FORK', 1));

    expect(product.events.at(-1)).to.deep.equal(new OutOfStock('SMALL-FORK', 'order2', 1, 2));
    expect(allocation).to.equal(undefined);
  });

  it('records OutOfStock once per stock-out: later refusals are StillOutOfStock', () => {
    const product = new Product('LAMP', [new Batch('b1', 'LAMP', 1, null)]);
    product.allocate(new OrderLine('o1', 'LAMP', 1));

    product.allocate(new OrderLine('o2', 'LAMP', 1));
    product.allocate(new OrderLine('o3', 'LAMP', 1));

    expect(product.events.slice(1)).to.deep.equal([
      new OutOfStock('LAMP', 'o2', 1, 2),
      new StillOutOfStock('LAMP', 'o3', 1, 2),
    ]);
    expect(product.outOfStockNotified).to.equal(true);
  });

  it('notifies the next stock-out once a batch is added', () => {
    const product = new Product('LAMP', [new Batch('b1', 'LAMP', 1, null)], 0, true);

    product.addBatch(new Batch('b2', 'LAMP', 1, null));
    product.allocate(new OrderLine('o1', 'LAMP', 2));

    expect(product.events).to.deep.equal([
      new BatchCreated('LAMP', 'b2', 1, null, 1),
      new OutOfStock('LAMP', 'o1', 2, 2),
    ]);
  });

  it('notifies the next stock-out once a quantity is raised, not when it is lowered', () => {
    const product = new Product('LAMP', [new Batch('b1', 'LAMP', 5, null)], 0, true);

    product.changeBatchQuantity('b1', 4);
    const afterLowering = product.outOfStockNotified;
    product.changeBatchQuantity('b1', 6);

    expect(afterLowering).to.equal(true);
    expect(product.outOfStockNotified).to.equal(false);
    expect(product.events).to.deep.equal([
      new BatchQuantityChanged('LAMP', 'b1', 5, 4, 1),
      new BatchQuantityChanged('LAMP', 'b1', 4, 6, 2),
    ]);
  });

  it('never splits a line across batches', () => {
    const product = new Product('LAMP', [
      new Batch('b1', 'LAMP', 6, null),
      new Batch('b2', 'LAMP', 6, TOMORROW),
    ]);

    const allocation = product.allocate(new OrderLine('o1', 'LAMP', 10));

    expect(allocation).to.equal(undefined);
    expect(product.batches.map((b) => b.availableQuantity)).to.deep.equal([6, 6]);
  });

  it('increments the version number', () => {
    const product = new Product('SCANDI-PEN', [new Batch('b1', 'SCANDI-PEN', 100, null)], 7);

    product.allocate(new OrderLine('oref', 'SCANDI-PEN', 10));

    expect(product.versionNumber).to.equal(8);
  });

  it('allocating an allocated line again changes nothing and raises no event', () => {
    const batch = new Batch('b1', 'LAMP', 100, null);
    const product = new Product('LAMP', [batch], 1);
    const line = new OrderLine('o1', 'LAMP', 10);
    product.allocate(line);
    product.events = [];

    const again = product.allocate(line);

    expect(again).to.equal('b1');
    expect(batch.availableQuantity).to.equal(90);
    expect(product.versionNumber).to.equal(2);
    expect(product.events).to.deep.equal([]);
  });

  it('changing a batch quantity deallocates lines and raises Deallocated', () => {
    const batch = new Batch('b1', 'LAMP', 20, null);
    const product = new Product('LAMP', [batch]);
    product.allocate(new OrderLine('o1', 'LAMP', 10));
    product.allocate(new OrderLine('o2', 'LAMP', 10));
    product.events = [];

    product.changeBatchQuantity('b1', 15);

    expect(batch.availableQuantity).to.equal(5);
    expect(product.events.filter((e) => e instanceof Deallocated)).to.deep.equal([
      new Deallocated('o2', 'LAMP', 10, 'b1', 3),
    ]);
  });

  it('changing a batch quantity keeps lines that still fit', () => {
    const batch = new Batch('b1', 'LAMP', 20, null);
    const product = new Product('LAMP', [batch], 3);
    product.allocate(new OrderLine('o1', 'LAMP', 10));
    product.events = [];

    product.changeBatchQuantity('b1', 10);

    expect(batch.availableQuantity).to.equal(0);
    expect(product.events).to.deep.equal([new BatchQuantityChanged('LAMP', 'b1', 20, 10, 5)]);
    expect(product.versionNumber).to.equal(5);
  });

  it('ignores a quantity change older than the last one applied', () => {
    const batch = new Batch('b1', 'LAMP', 20, null);
    const product = new Product('LAMP', [batch], 1);
    product.changeBatchQuantity('b1', 30, '0002');

    product.changeBatchQuantity('b1', 10, '0001');

    expect(batch.purchasedQuantity).to.equal(30);
    expect(product.versionNumber).to.equal(2);
  });
});
