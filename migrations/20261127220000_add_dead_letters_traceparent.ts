import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  // An outbound dead letter keeps its outbox row's trace context, so a replay continues the
  // trace that caused the message.
  await knex.schema.alterTable('dead_letters', (t) => {
    t.text('traceparent').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('dead_letters', (t) => {
    t.dropColumn('traceparent');
  });
}
