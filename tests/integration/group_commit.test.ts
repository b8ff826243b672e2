import { expect } from 'chai';
import { groupCommit } from '../../src/allocation/adapters/postgres/group_commit';
import { isUniqueViolation } from '../../src/allocation/adapters/postgres/db';
import { testDb, testPool } from '../support/db';
import { randomBatchref, randomSku } from '../support/random_refs';

/** The changes of a new product with one new batch, as product_changes.ts writes them. */
function newProduct(ref: string): string {
  return JSON.stringify({
    expected_version: null,
    version: 1,
    new_batches: [{ ref, purchased: 10, allocated: 0, eta: null }],
    changed_batches: [],
    freed_lines: [],
    allocated_lines: [],
    outbox: [],
    view_rows: [],
  });
}

describe('group commit', () => {
  it('commits the products asked for in one turn, each of them', async () => {
    const db = await testDb();
    const commit = groupCommit(await testPool());
    const products = Array.from({ length: 20 }, () => [randomSku(), randomBatchref()]);

    await Promise.all(products.map(([sku, ref]) => commit(sku, newProduct(ref))));

    const skus = products.map(([sku]) => sku);
    const rows = await db('batches').whereIn('sku', skus).select('sku', 'reference');
    expect(rows).to.have.deep.members(products.map(([sku, reference]) => ({ sku, reference })));
  });

  it("fails only the product whose change fails, and commits its neighbours'", async () => {
    const db = await testDb();
    const commit = groupCommit(await testPool());
    const taken = randomBatchref('taken');
    await commit(randomSku(), newProduct(taken));
    const products = Array.from({ length: 6 }, () => [randomSku(), randomBatchref()]);
    const clash = randomSku('clash');

    const results = await Promise.allSettled([
      ...products.map(([sku, ref]) => commit(sku, newProduct(ref))),
      commit(clash, newProduct(taken)), // a ref another product holds: 23505 on batch_refs
    ]);

    expect(results.slice(0, 6).map((r) => r.status)).to.deep.equal(Array(6).fill('fulfilled'));
    const failed = results[6];
    expect(failed.status).to.equal('rejected');
    expect(isUniqueViolation((failed as PromiseRejectedResult).reason, 'batch_refs_pkey')).to.equal(
      true,
    );
    const skus = products.map(([sku]) => sku);
    expect(await db('products').whereIn('sku', skus).count<{ count: string }[]>()).to.deep.equal([
      { count: '6' },
    ]);
    expect(await db('products').where({ sku: clash })).to.deep.equal([]);
  });
});
