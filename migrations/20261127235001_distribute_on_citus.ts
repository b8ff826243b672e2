import type { Knex } from 'knex';

// On Citus (its extension installed in this database), the tables are distributed as SCALING.md
// plans: the write side by sku, in one co-location group (a product's batches, lines,
// allocations and outbox rows live on one shard, so each statement naming the sku runs there
// alone); the read model by order id; batch refs by reference; the inbox by message id. The
// operational tables (dead letters, the relay lease, knex's own) stay on the coordinator. On
// any other PostgreSQL this does nothing.
const SKU_GROUP: [table: string, column: string][] = [
  ['batches', 'sku'],
  ['order_lines', 'sku'],
  ['allocations', 'sku'],
  ['outbox', 'key'],
];
const ON_THEIR_OWN: [table: string, column: string][] = [
  ['allocations_view', 'orderid'],
  ['batch_refs', 'reference'],
  ['processed_messages', 'message_id'],
];

export async function up(knex: Knex): Promise<void> {
  const { rows } = await knex.raw(`SELECT 1 FROM pg_extension WHERE extname = 'citus'`);
  if (rows.length === 0) return;
  // Citus keeps a primary key, a unique constraint or a foreign key only when it includes the
  // distribution column: each is replaced by one that does (a ref stays unique globally
  // through batch_refs' primary key).
  await knex.raw(`
    ALTER TABLE allocations
      DROP CONSTRAINT allocations_orderline_id_foreign,
      DROP CONSTRAINT allocations_batch_id_foreign,
      DROP CONSTRAINT allocations_orderline_id_unique,
      DROP CONSTRAINT allocations_pkey,
      ADD PRIMARY KEY (sku, id),
      ADD CONSTRAINT allocations_orderline_id_unique UNIQUE (sku, orderline_id)`);
  await knex.raw(`
    ALTER TABLE batches
      DROP CONSTRAINT batches_sku_foreign,
      DROP CONSTRAINT batches_reference_unique,
      DROP CONSTRAINT batches_pkey,
      ADD PRIMARY KEY (sku, id),
      ADD CONSTRAINT batches_reference_unique UNIQUE (sku, reference)`);
  await knex.raw(
    'ALTER TABLE order_lines DROP CONSTRAINT order_lines_pkey, ADD PRIMARY KEY (sku, id)',
  );
  await knex.raw('ALTER TABLE outbox DROP CONSTRAINT outbox_pkey, ADD PRIMARY KEY (key, id)');

  await knex.raw(`SELECT create_distributed_table('products', 'sku')`);
  for (const [table, column] of SKU_GROUP) {
    await knex.raw(`SELECT create_distributed_table(?, ?, colocate_with => 'products')`, [
      table,
      column,
    ]);
  }
  for (const [table, column] of ON_THEIR_OWN) {
    await knex.raw(`SELECT create_distributed_table(?, ?, colocate_with => 'none')`, [
      table,
      column,
    ]);
  }
  await knex.raw(`
    ALTER TABLE batches ADD CONSTRAINT batches_sku_foreign FOREIGN KEY (sku) REFERENCES products (sku)`);
  // (Citus takes one ADD CONSTRAINT per statement on a distributed table)
  await knex.raw(`
    ALTER TABLE allocations ADD CONSTRAINT allocations_orderline_id_foreign
      FOREIGN KEY (sku, orderline_id) REFERENCES order_lines (sku, id)`);
  await knex.raw(`
    ALTER TABLE allocations ADD CONSTRAINT allocations_batch_id_foreign
      FOREIGN KEY (sku, batch_id) REFERENCES batches (sku, id)`);
}

export function down(): Promise<void> {
  return Promise.reject(new Error('irreversible: undistribute with undistribute_table() by hand'));
}
