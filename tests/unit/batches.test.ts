import { expect } from 'chai';
import { Batch, OrderLine } from '../../src/allocation/domain/model';

function makeBatchAndLine(sku: string, batchQty: number, lineQty: number): [Batch, OrderLine] {
  return [new Batch('batch-001', sku, batchQty, null), new OrderLine('order-123', sku, lineQty)];
}

describe('batch', () => {
  it('allocating to a batch reduces the available quantity', () => {
    const [batch, line] = makeBatchAndLine('SMALL-TABLE', 20, 2);

    batch.allocate(line);

    expect(batch.availableQuantity).to.equal(18);
  });

  it('can allocate if available greater than required', () => {
    const [batch, line] = makeBatchAndLine('ELEGANT-LAMP', 20, 2);

    expect(batch.canAllocate(line)).to.equal(true);
  });

  it('can allocate if available equal to required', () => {
    const [batch, line] = makeBatchAndLine('ELEGANT-LAMP', 2, 2);

    expect(batch.canAllocate(line)).to.equal(true);
  });

  it('cannot allocate if available smaller than required', () => {
    const [batch, line] = makeBatchAndLine('ELEGANT-LAMP', 2, 20);

    expect(batch.canAllocate(line)).to.equal(false);
  });

  it('cannot allocate if skus do not match', () => {
    const batch = new Batch('batch-001', 'UNCOMFORTABLE-CHAIR', 100, null);
    const line = new OrderLine('order-123', 'EXPENSIVE-TOASTER', 10);

    expect(batch.canAllocate(line)).to.equal(false);
  });

  it('allocation is idempotent', () => {
    const [batch, line] = makeBatchAndLine('ANGULAR-DESK', 20, 2);

    batch.allocate(line);
    batch.allocate(line);

    expect(batch.availableQuantity).to.equal(18);
  });

  it('deallocates an allocated line', () => {
    const [batch, line] = makeBatchAndLine('EXPENSIVE-FOOTSTOOL', 20, 2);
    batch.allocate(line);

    batch.deallocate(line);

    expect(batch.availableQuantity).to.equal(20);
  });

  it('can only deallocate allocated lines', () => {
    const [batch, unallocatedLine] = makeBatchAndLine('DECORATIVE-TRINKET', 20, 2);

    batch.deallocate(unallocatedLine);

    expect(batch.availableQuantity).to.equal(20);
  });

  it('counts stored allocations it has not loaded the lines of', () => {
    const known = new OrderLine('order-1', 'LAMP', 3);
    const batch = Batch.restore('batch-001', 'LAMP', 20, null, 15, [known]);

    batch.deallocate(known);

    expect(batch.availableQuantity).to.equal(8);
  });
});
