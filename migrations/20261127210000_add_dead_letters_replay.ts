import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  // Dead letters both ways (SPEC section 9): an outbound one keeps what a replay needs to put it
  // back in the outbox (key, type, handler, correlation id); replayed or discarded ones are kept until
  // DEAD_LETTER_RETENTION has passed.
  await knex.schema.alterTable('dead_letters', (t) => {
    t.integer('attempts').notNullable().defaultTo(1);
    t.timestamp('replayed_at', { useTz: true }).nullable();
    t.timestamp('deleted_at', { useTz: true }).nullable();
    t.string('outbox_key', 255).nullable();
    t.string('outbox_type', 64).nullable();
    t.string('outbox_handler', 64).nullable();
    t.string('correlation_id', 64).nullable();
    t.index(['source', 'id'], 'dead_letters_source_idx');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('dead_letters', (t) => {
    t.dropIndex(['source', 'id'], 'dead_letters_source_idx');
    t.dropColumns(
      'attempts',
      'replayed_at',
      'deleted_at',
      'outbox_key',
      'outbox_type',
      'outbox_handler',
      'correlation_id',
    );
  });
}
