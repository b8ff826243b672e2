import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  // The inbox: ids of inbound messages already handled, written in the handler's transaction.
  await knex.schema.createTable('processed_messages', (t) => {
    t.string('message_id', 255).primary();
    t.timestamp('processed_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('processed_messages');
}
