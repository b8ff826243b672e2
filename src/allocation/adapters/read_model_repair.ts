import type { Knex } from 'knex';

/**
 * Adds read-model rows for allocations that have none. A process killed between committing an
 * allocation and running its read-model handler leaves such a gap, and the client's retry is an
 * idempotent no-op that raises no event to close it, so each process closes it at start-up.
 * It only inserts (never overwrites), so it cannot undo a newer handler's write.
 */
export async function addMissingAllocationsToReadModel(db: Knex): Promise<number> {
  const result = await db.raw<{ rowCount: number }>(`
    INSERT INTO allocations_view (orderid, sku, batchref)
    SELECT ol.orderid, ol.sku, b.reference
    FROM allocations a
    JOIN order_lines ol ON ol.id = a.orderline_id
    JOIN batches b ON b.id = a.batch_id
    WHERE NOT EXISTS (
      SELECT 1 FROM allocations_view v WHERE v.orderid = ol.orderid AND v.sku = ol.sku)
    ON CONFLICT (orderid, sku) DO NOTHING`);
  return result.rowCount;
}
