import type { Knex } from 'knex';

// The relay's drain first finds the messages still backing off (knex_outbox_drain.ts, PENDING):
// `delivered_at IS NULL AND next_attempt_at > now()`. With only the pending index by id, that
// read every undelivered row from the table on every drain: 11.9 ms a drain with 100,000
// waiting, so a backlog drained in time that grew with its square (bench drain, issue 23).
// By next_attempt_at, it reads just the few rows that failed and wait for their retry.
export async function up(knex: Knex): Promise<void> {
  await knex.raw(
    'CREATE INDEX outbox_backing_off_idx ON outbox (next_attempt_at) WHERE delivered_at IS NULL',
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX outbox_backing_off_idx');
}
