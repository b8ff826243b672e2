import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  // Retention finds old inbox ids by age. Ids arrive in time order, so a BRIN index (a few
  // pages, nearly free to maintain on the hot insert path) finds them without a full scan.
  await knex.raw(
    'CREATE INDEX processed_messages_processed_at_idx ON processed_messages USING brin (processed_at)',
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX processed_messages_processed_at_idx');
}
