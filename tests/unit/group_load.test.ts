import { expect } from 'chai';
import { groupLoad, LOAD_PRODUCTS } from '../../src/allocation/adapters/postgres/group_load';
import type { Query } from '../../src/allocation/adapters/postgres/prepared';
import { LOAD_PRODUCT } from '../../src/allocation/adapters/postgres/repository';

type Row = { load_sku?: string; sku: string; batch: number };

/** A database of a few products' rows; records each statement; fails groups with `groupError`. */
function fakeDb(groupError?: Error & { code?: string }) {
  const rowsOf = (sku: string): Row[] => (sku.startsWith('none') ? [] : [{ sku, batch: 1 }]);
  const calls: { statement: 'alone' | 'group'; skus: string[] }[] = [];
  const query = (async (text: string, values: unknown[]) => {
    if (text === LOAD_PRODUCT) {
      const sku = values[1] as string;
      calls.push({ statement: 'alone', skus: [sku] });
      return rowsOf(sku);
    }
    expect(text).to.equal(LOAD_PRODUCTS);
    const group = JSON.parse(values[0] as string) as { sku: string; orderids: string[] }[];
    calls.push({ statement: 'group', skus: group.map((unit) => unit.sku) });
    if (groupError) throw groupError;
    return group.flatMap(({ sku }) => rowsOf(sku).map((row) => ({ ...row, load_sku: sku })));
  }) as Query;
  return { query, calls };
}

const loadAll = (load: ReturnType<typeof groupLoad>, skus: string[]) =>
  Promise.all(skus.map((sku) => load<Row>(sku, '["o1"]')));

describe('group load', () => {
  it('loads the products asked for in one turn in one statement, each its own rows', async () => {
    const db = fakeDb();
    const load = groupLoad(db.query);

    const results = await loadAll(load, ['a', 'b', 'none-c']);

    expect(db.calls).to.deep.equal([{ statement: 'group', skus: ['a', 'b', 'none-c'] }]);
    expect(results.map((rows) => rows.map((row) => row.sku))).to.deep.equal([['a'], ['b'], []]);
  });

  it('loads a product asked for alone with the one-product statement', async () => {
    const db = fakeDb();
    const load = groupLoad(db.query);

    expect(await load<Row>('a', '[]')).to.deep.equal([{ sku: 'a', batch: 1 }]);
    expect(db.calls).to.deep.equal([{ statement: 'alone', skus: ['a'] }]);
  });

  it('loads a sku asked for twice in one turn in two statements', async () => {
    const db = fakeDb();
    const load = groupLoad(db.query);

    await loadAll(load, ['a', 'b', 'a']);

    expect(db.calls).to.have.deep.members([
      { statement: 'group', skus: ['a', 'b'] },
      { statement: 'alone', skus: ['a'] },
    ]);
  });

  it('loads each product alone when the group statement fails, and groups again after', async () => {
    const db = fakeDb(Object.assign(new Error('statement timeout'), { code: '57014' }));
    const load = groupLoad(db.query);

    const results = await loadAll(load, ['a', 'b']);
    await loadAll(load, ['c', 'd']);

    expect(results.map((rows) => rows.length)).to.deep.equal([1, 1]);
    expect(db.calls.map((call) => call.statement)).to.deep.equal([
      'group',
      'alone',
      'alone',
      'group',
      'alone',
      'alone',
    ]);
  });

  it('stops grouping on a database that cannot run the group statement (Citus)', async () => {
    const refused = 'complex joins are only supported when all distributed tables are co-located';
    const db = fakeDb(Object.assign(new Error(refused), { code: '0A000' }));
    const load = groupLoad(db.query);

    await loadAll(load, ['a', 'b']);
    const later = await loadAll(load, ['c', 'd']);

    expect(later.map((rows) => rows.length)).to.deep.equal([1, 1]);
    expect(db.calls.map((call) => call.statement)).to.deep.equal([
      'group',
      'alone',
      'alone',
      'alone',
      'alone',
    ]);
  });
});
