import type { Knex } from 'knex';

// History (SPEC section 3, "History"; service_layer/history.ts): one row per event a commit
// raised, written by apply_product_changes in the same transaction as the change. Keyed like
// the rest of the write side by (sku, id), so a product's history is one index range, newest
// first by id (a product's rows are inserted under its row lock: id order is commit order).
// - history_orderid_index: an order's history (GET /orders/:orderid/history);
// - history_at_brin: retention's `at < cutoff` scans; rows arrive in time order, so a BRIN
//   index (a few pages) finds the old ones at almost no cost per insert.
// Beside it, for one notification per stock-out (SPEC section 5), the product keeps whether its
// stock-out was notified; the outbox keeps the cause of each row's change, for what its handlers
// commit (a re-allocation's history); the read model keeps when each row was last written, so
// retention can prune tombstones by age.
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE history (
      id bigserial NOT NULL,
      sku varchar(255) NOT NULL,
      at timestamptz NOT NULL,
      version integer NOT NULL,
      type varchar(32) NOT NULL,
      orderid varchar(255),
      qty integer,
      batchref varchar(255),
      qty_from integer,
      qty_to integer,
      cause_kind varchar(16),
      cause_id text,
      PRIMARY KEY (sku, id)
    )`);
  await knex.raw(
    'CREATE INDEX history_orderid_index ON history (orderid) WHERE orderid IS NOT NULL',
  );
  await knex.raw('CREATE INDEX history_at_brin ON history USING brin (at)');
  await knex.raw(
    'ALTER TABLE products ADD COLUMN out_of_stock_notified boolean NOT NULL DEFAULT false',
  );
  await knex.raw('ALTER TABLE outbox ADD COLUMN cause jsonb');
  await knex.raw(
    'ALTER TABLE allocations_view ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now()',
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE allocations_view DROP COLUMN updated_at');
  await knex.raw('ALTER TABLE outbox DROP COLUMN cause');
  await knex.raw('ALTER TABLE products DROP COLUMN out_of_stock_notified');
  await knex.raw('DROP TABLE history');
}
