// The read side: plain queries on the allocations_view read model, no domain needed.
import type { Knex } from 'knex';

export async function allocations(
  orderid: string,
  db: Knex,
): Promise<{ sku: string; batchref: string }[]> {
  return db('allocations_view').select('sku', 'batchref').where({ orderid }).orderBy('sku');
}
