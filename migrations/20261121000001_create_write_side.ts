import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('products', (t) => {
    t.string('sku', 255).primary();
    t.integer('version_number').notNullable().defaultTo(0);
  });
  await knex.schema.createTable('batches', (t) => {
    t.increments('id');
    t.string('reference', 255).notNullable().unique();
    t.string('sku', 255).notNullable().references('products.sku').index();
    t.integer('purchased_quantity').notNullable();
    // Kept with the batch so an allocation reads one row per batch, not every line ever allocated.
    t.integer('allocated_quantity').notNullable().defaultTo(0);
    t.date('eta').nullable();
  });
  // The invariant, enforced by the database too: a batch is never over-allocated.
  await knex.raw(
    'ALTER TABLE batches ADD CONSTRAINT batches_not_over_allocated ' +
      'CHECK (allocated_quantity >= 0 AND allocated_quantity <= purchased_quantity)',
  );
  await knex.schema.createTable('order_lines', (t) => {
    t.increments('id');
    t.string('orderid', 255).notNullable();
    t.string('sku', 255).notNullable();
    t.integer('qty').notNullable();
    t.unique(['orderid', 'sku']);
  });
  await knex.schema.createTable('allocations', (t) => {
    t.increments('id');
    // unique: a line is held by at most one batch at a time
    t.integer('orderline_id').notNullable().unique().references('order_lines.id');
    t.integer('batch_id').notNullable().references('batches.id').index();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('allocations');
  await knex.schema.dropTable('order_lines');
  await knex.schema.dropTable('batches');
  await knex.schema.dropTable('products');
}
