import type { Knex } from 'knex';
import type pg from 'pg';
import { groupCommit, type GroupCommit } from '../../src/allocation/adapters/postgres/group_commit';
import { groupLoad } from '../../src/allocation/adapters/postgres/group_load';
import { preparedQuery } from '../../src/allocation/adapters/postgres/prepared';
import { PostgresUnitOfWork } from '../../src/allocation/adapters/postgres/postgres_unit_of_work';
import { HotSkus, SkuLocks } from '../../src/allocation/adapters/postgres/sku_locks';
import { EVENT_HANDLERS } from '../../src/allocation/service_layer/handlers';

/** Units of work that commit in groups together, as those of one process do. */
export function sharedGroupCommit(pool: pg.Pool): GroupCommit {
  return groupCommit(pool);
}

export function newUow(
  pool: pg.Pool,
  shared: { groupCommit?: GroupCommit } = {},
): PostgresUnitOfWork {
  // Locks of its own: two units of work built here race like two processes would.
  return new PostgresUnitOfWork(pool, {
    eventHandlers: EVENT_HANDLERS,
    skuLocks: new SkuLocks(),
    hotSkus: new HotSkus(),
    groupCommit: shared.groupCommit ?? groupCommit(pool),
    groupLoad: groupLoad(preparedQuery(pool)),
  });
}

export async function insertBatch(
  db: Knex,
  ref: string,
  sku: string,
  qty: number,
  eta: string | null = null,
  version = 1,
): Promise<void> {
  await db('products').insert({ sku, version_number: version }).onConflict('sku').ignore();
  await db('batches').insert({ reference: ref, sku, purchased_quantity: qty, eta });
  await db('batch_refs').insert({ reference: ref, sku });
}

export async function allocatedBatchref(
  db: Knex,
  orderid: string,
  sku: string,
): Promise<string | undefined> {
  const row = await db('allocations as a')
    .join('order_lines as ol', (j) => j.on('ol.id', 'a.orderline_id').andOn('ol.sku', 'a.sku'))
    .join('batches as b', (j) => j.on('b.id', 'a.batch_id').andOn('b.sku', 'a.sku'))
    .where({ 'ol.orderid': orderid, 'ol.sku': sku })
    .first('b.reference');
  return row?.reference;
}
