// The read side: plain SQL on the allocations_view read model, no domain needed.
import type { Knex } from 'knex';
import { queryPrepared } from './adapters/prepared';

export async function allocations(
  orderid: string,
  db: Knex,
): Promise<{ sku: string; batchref: string }[]> {
  const { rows } = await queryPrepared<{ sku: string; batchref: string }>(
    db,
    'SELECT sku, batchref FROM allocations_view WHERE orderid = ? ORDER BY sku',
    [orderid],
  );
  return rows;
}
