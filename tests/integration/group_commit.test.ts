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

/** Three allocations of one line each on a product made by newProduct (version 1 -> 4). */
function threeAllocations(sku: string, ref: string): string {
  const versions = [2, 3, 4];
  const line = (version: number) => ({ orderid: `${sku}-o${version}`, version });
  return JSON.stringify({
    expected_version: 1,
    version: 4,
    new_batches: [],
    changed_batches: [{ ref, purchased: 10, allocated: 3, position: null }],
    freed_lines: [],
    allocated_lines: versions.map((v) => ({ ref, orderid: line(v).orderid, qty: 1 })),
    outbox: versions.map((v) => ({
      type: 'Allocated',
      handler: 'line_allocated',
      payload: { ...line(v), sku, qty: 1, batchref: ref },
      correlation_id: null,
      traceparent: null,
      cause: null,
    })),
    view_rows: versions.map((v) => ({ ...line(v), batchref: ref })),
    history: versions.map((v) => ({
      ...line(v),
      type: 'allocated',
      qty: 1,
      batchref: ref,
      from: null,
      to: null,
      cause_kind: 'http',
      cause_id: `r${v}`,
    })),
  });
}

describe('group commit', () => {
  it("writes a group in one transaction, each product's rows in the order they were raised", async () => {
    const db = await testDb();
    const commit = groupCommit(await testPool());
    const products = Array.from({ length: 4 }, () => [randomSku(), randomBatchref()]);
    await Promise.all(products.map(([sku, ref]) => commit(sku, newProduct(ref))));

    await Promise.all(products.map(([sku, ref]) => commit(sku, threeAllocations(sku, ref))));

    const skus = products.map(([sku]) => sku);
    const outbox = await db('outbox').whereIn('key', skus).orderBy('id').select('key', 'payload');
    const history = await db('history').whereIn('sku', skus).orderBy('id').select('sku', 'version');
    const transactions = await db('allocations_view')
      .whereIn('sku', skus)
      .select(db.raw('xmin::text AS xmin'));
    for (const sku of skus) {
      const versions = (rows: { version: number }[]) => rows.map((row) => row.version);
      const raised = outbox.filter((row) => row.key === sku).map((row) => row.payload);
      expect(versions(raised)).to.deep.equal([2, 3, 4]);
      expect(versions(history.filter((row) => row.sku === sku))).to.deep.equal([2, 3, 4]);
    }
    expect(new Set(transactions.map((row) => row.xmin)).size).to.equal(1);
    expect(await db('products').whereIn('sku', skus).pluck('version_number')).to.deep.equal([
      4, 4, 4, 4,
    ]);
  });

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
