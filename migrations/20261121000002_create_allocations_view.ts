import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('allocations_view', (t) => {
    t.string('orderid', 255).notNullable();
    t.string('sku', 255).notNullable();
    t.string('batchref', 255).notNullable();
    // Leading orderid serves GET /allocations/:orderid; the pair makes the handlers idempotent.
    t.primary(['orderid', 'sku']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('allocations_view');
}
