import { expect } from 'chai';
import type pg from 'pg';
import { Batch, OrderLine, Product } from '../../src/allocation/domain/model';
import { LOAD_PRODUCT } from '../../src/allocation/adapters/postgres/repository';
import { groupLoad, LOAD_PRODUCTS } from '../../src/allocation/adapters/postgres/group_load';
import { preparedQuery } from '../../src/allocation/adapters/postgres/prepared';
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

  it("finds an order's lines by order id, however many lines its batch holds", async () => {
    const pool = await testPool();
    const [sku, ref] = [randomSku(), randomBatchref()];
    const product = new Product(sku, [new Batch(ref, sku, 3_000, null)]);
    for (let i = 0; i < 2_000; i++) product.allocate(new OrderLine(`o${i}`, sku, 1));
    const uow = newUow(pool);
    await uow.run(async () => {
      uow.products.add(product);
      await uow.commit();
    });

    // Statistics that say a batch has one line (what a never-analysed database looks like to
    // the planner) made the earlier statement scan every line of the batch: 8,032 buffers here
    // (34,000 on the bench's hot sku). Rolled back: the statistics and the setting with it.
    const plan = await rolledBack(pool, async (client) => {
      await client.query('ALTER TABLE allocations ALTER COLUMN batch_id SET (n_distinct = -1)');
      await client.query('ANALYZE allocations');
      return planOf(client, 'ANALYZE, BUFFERS', ['["o7", "o1999"]', sku]);
    });
    expect(plan['Actual Rows']).to.equal(2);
    expect(plan['Shared Hit Blocks'] + plan['Shared Read Blocks']).to.be.below(100);
  });

  it('plans a load by index on the empty tables of a new database, for good', async () => {
    // A connection keeps a statement's generic plan; made on a new database's empty tables
    // (planned as 10 pages each), the earlier statement scanned order_lines and allocations
    // whole on every load until an ANALYZE replaced it. Empty tables of the same shape, in
    // pg_temp (first on the search path) for this transaction only, give the same plan.
    expect(await scansOnEmptyTables(LOAD_PRODUCT)).to.have.members(INDEX_SCANS);
  });

  it('plans a load once per connection, for one order as for several', async () => {
    // A statement PostgreSQL judged cheaper to plan for each value was planned on every load
    // (+0.25 ms of its CPU per allocation at one client). After five plans for the values
    // given, a connection settles on its generic plan when that costs no more.
    const client = await (await testPool()).connect();
    try {
      for (const orderids of [['a'], ['b'], ['c'], ['d', 'e'], ['f'], ['g'], ['h', 'i', 'j']]) {
        const values = [JSON.stringify(orderids), randomSku()];
        await client.query({ name: 'load_probe', text: LOAD_PRODUCT, values });
      }
      const { rows } = await client.query<{ generic: number; custom: number }>(
        `SELECT generic_plans::int AS generic, custom_plans::int AS custom
         FROM pg_prepared_statements WHERE name = 'load_probe'`,
      );
      expect(rows).to.deep.equal([{ generic: 2, custom: 5 }]);
    } finally {
      client.release(true); // closed, with its prepared statement
    }
  });

  it('plans a group load by index on empty tables too', async () => {
    expect(await scansOnEmptyTables(LOAD_PRODUCTS)).to.have.members(INDEX_SCANS);
  });

  it('loads products together exactly as each alone', async () => {
    const pool = await testPool();
    const [full, bare, unknown] = [randomSku(), randomSku(), randomSku()];
    const product = new Product(full, [
      new Batch(randomBatchref('1'), full, 10, null),
      new Batch(randomBatchref('2'), full, 10, '2026-12-24'),
    ]);
    for (const orderid of ['o1', 'o2', 'o3']) product.allocate(new OrderLine(orderid, full, 4));
    for (const made of [product, new Product(bare, [])]) {
      const uow = newUow(pool);
      await uow.run(async () => {
        uow.products.add(made);
        await uow.commit();
      });
    }
    const asked: [string, string][] = [
      [full, '["o1", "o3", "o9"]'],
      [bare, '["o1"]'],
      [unknown, '[]'],
    ];
    const query = preparedQuery(pool);
    const alone = await Promise.all(asked.map(([sku, ids]) => query(LOAD_PRODUCT, [ids, sku])));

    const statements: string[] = [];
    const load = groupLoad((text, values) => {
      statements.push(text);
      return query(text, values);
    });
    const together = await Promise.all(asked.map(([sku, ids]) => load(sku, ids)));

    expect(statements).to.deep.equal([LOAD_PRODUCTS]);
    const withoutSku = (rows: Record<string, unknown>[]) =>
      rows.map(({ load_sku: _, ...row }) => row);
    expect(together.map((rows) => withoutSku(rows as Record<string, unknown>[]))).to.deep.equal(
      alone,
    );
    // a row per batch and asked line: o1 on the first batch, o3 on the second; one for the
    // batchless product; none for the unknown sku
    expect(alone.map((rows) => rows.length)).to.deep.equal([2, 1, 0]);
  });

  it('returns undefined for an unknown sku', async () => {
    const uow = newUow(await testPool());

    expect(await uow.run(() => uow.products.get(randomSku()))).to.equal(undefined);
  });
});

type PlanNode = {
  'Node Type': string;
  'Relation Name'?: string;
  'Actual Rows': number;
  'Shared Hit Blocks': number;
  'Shared Read Blocks': number;
  Plans?: PlanNode[];
};

/** Runs `fn` in a transaction on a connection of its own, then rolls everything back. */
async function rolledBack<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>) {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    return await fn(client);
  } finally {
    await client.query('ROLLBACK');
    client.release();
  }
}

/** A product load's plan (LOAD_PRODUCT's unless told), EXPLAINed with `options` (FORMAT JSON added). */
async function planOf(
  client: pg.PoolClient,
  options: string,
  values?: unknown[],
  statement = LOAD_PRODUCT,
) {
  const { rows } = await client.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(
    `EXPLAIN (${options}, FORMAT JSON) ${statement}`,
    values,
  );
  return rows[0]['QUERY PLAN'][0].Plan;
}

/** What a load's plan must be, whatever the statistics: one index scan per table it reads. */
const INDEX_SCANS = [
  'Index Scan on products',
  'Index Scan on batches',
  'Index Scan on order_lines',
  'Index Scan on allocations',
];

/**
 * The table scans of `statement`'s generic plan on empty copies of the tables a load reads, in
 * pg_temp (first on the search path) for one rolled-back transaction.
 */
async function scansOnEmptyTables(statement: string): Promise<string[]> {
  const plan = await rolledBack(await testPool(), async (client) => {
    for (const table of ['products', 'batches', 'order_lines', 'allocations']) {
      await client.query(`CREATE TEMP TABLE ${table} (LIKE public.${table} INCLUDING ALL)`);
    }
    return planOf(client, 'GENERIC_PLAN', undefined, statement);
  });
  return nodesOf(plan)
    .filter((node) => node['Relation Name'] !== undefined)
    .map((node) => `${node['Node Type']} on ${node['Relation Name']}`);
}

function nodesOf(node: PlanNode): PlanNode[] {
  return [node, ...(node.Plans ?? []).flatMap(nodesOf)];
}
