import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  // The relay skips a (key, type) whose earlier message is still backing off: this finds those.
  await knex.raw(
    'CREATE INDEX outbox_pending_key_idx ON outbox (key, type, id) WHERE delivered_at IS NULL',
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX outbox_pending_key_idx');
}
