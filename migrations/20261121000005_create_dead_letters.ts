import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  // Inbound messages set aside (malformed, or failing their handler), for an operator to see.
  await knex.schema.createTable('dead_letters', (t) => {
    t.bigIncrements('id');
    t.string('source', 255).notNullable();
    t.text('payload').notNullable();
    t.text('reason').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('dead_letters');
}
