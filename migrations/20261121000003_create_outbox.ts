import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('outbox', (t) => {
    t.bigIncrements('id');
    t.string('key', 255).notNullable(); // the product's sku: delivery keeps order per key
    t.string('type', 64).notNullable();
    t.jsonb('payload').notNullable();
    t.string('correlation_id', 64).nullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.integer('attempts').notNullable().defaultTo(0);
    t.timestamp('next_attempt_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.text('last_error').nullable();
    t.timestamp('delivered_at', { useTz: true }).nullable();
  });
  // The relay only ever scans undelivered rows, oldest first.
  await knex.raw('CREATE INDEX outbox_pending_idx ON outbox (id) WHERE delivered_at IS NULL');
  await knex.raw('CREATE INDEX outbox_delivered_at_idx ON outbox (delivered_at)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('outbox');
}
