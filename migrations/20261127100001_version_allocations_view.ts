import type { Knex } from 'knex';

// Read-model rows carry the product version that produced them, and a removal leaves a
// tombstone (batchref NULL) with its version instead of deleting the row: an event older than
// the row, delivered late or again, then changes nothing, whatever order events arrive in.
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE allocations_view
      ADD COLUMN version integer NOT NULL DEFAULT 0,
      ALTER COLUMN batchref DROP NOT NULL`);
  // Start from the truth: rows the old in-process updates got wrong or lost are rebuilt from
  // the write side, at the product's current version (every later event has a higher one).
  await knex.raw(`
    INSERT INTO allocations_view (orderid, sku, batchref, version)
    SELECT ol.orderid, ol.sku, b.reference, p.version_number
    FROM allocations a
    JOIN order_lines ol ON ol.id = a.orderline_id
    JOIN batches b ON b.id = a.batch_id
    JOIN products p ON p.sku = b.sku
    ON CONFLICT (orderid, sku) DO UPDATE
      SET batchref = EXCLUDED.batchref, version = EXCLUDED.version`);
  await knex.raw(`
    UPDATE allocations_view v SET batchref = NULL, version = p.version_number
    FROM products p
    WHERE p.sku = v.sku AND NOT EXISTS (
      SELECT 1 FROM order_lines ol JOIN allocations a ON a.orderline_id = ol.id
      WHERE ol.orderid = v.orderid AND ol.sku = v.sku)`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DELETE FROM allocations_view WHERE batchref IS NULL');
  await knex.raw(`
    ALTER TABLE allocations_view
      DROP COLUMN version,
      ALTER COLUMN batchref SET NOT NULL`);
}
