import type { Knex } from 'knex';

// A chain's correlation id can be an inbound message id of up to 255 characters (SPEC section
// 4), and the outbox keeps it whole (text since 20261127100000). The dead letters made from
// outbox rows must too: at varchar(64) such a message could never be dead-lettered, and was
// redelivered on every poll instead.
export async function up(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE dead_letters ALTER COLUMN correlation_id TYPE text');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(
    'ALTER TABLE dead_letters ALTER COLUMN correlation_id TYPE varchar(64) USING left(correlation_id, 64)',
  );
}
