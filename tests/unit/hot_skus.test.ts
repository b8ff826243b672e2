import { expect } from 'chai';
import { HotSkus } from '../../src/allocation/adapters/postgres/sku_locks';

describe('hot skus', () => {
  it('a sku that lost one race stays on the lock-free path', () => {
    const hot = new HotSkus(3, 60_000, 60_000);

    hot.mark('LAMP');

    expect(hot.has('LAMP')).to.equal(false);
  });

  it('a sku that keeps losing races is locked while hot', () => {
    const hot = new HotSkus(3, 60_000, 60_000);

    hot.mark('LAMP');
    hot.mark('LAMP');
    hot.mark('LAMP');

    expect(hot.has('LAMP')).to.equal(true);
    expect(hot.has('CHAIR')).to.equal(false);
  });
});
