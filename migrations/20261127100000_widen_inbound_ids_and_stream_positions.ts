import type { Knex } from 'knex';

// Inbound message ids are stored whole (SPEC section 4: up to 255 characters, a numeric id as
// its decimal string): the outbox's correlation id, which carries them, held only 64. Stream
// positions are now padded to 20+20 digits (every entry id Redis accepts); positions stored
// with the old 15+10 padding are re-padded so they still compare with new ones.
export async function up(knex: Knex): Promise<void> {
  // varchar(64) to text: no table rewrite in PostgreSQL
  await knex.raw('ALTER TABLE outbox ALTER COLUMN correlation_id TYPE text');
  await knex.raw(
    `UPDATE batches
     SET quantity_position = lpad(split_part(quantity_position, '-', 1), 20, '0') || '-' ||
                             lpad(split_part(quantity_position, '-', 2), 20, '0')
     WHERE quantity_position ~ '^[0-9]+-[0-9]+$' AND length(quantity_position) <> 41`,
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(
    `UPDATE batches
     SET quantity_position = lpad(ltrim(split_part(quantity_position, '-', 1), '0'), 15, '0') ||
                             '-' || lpad(ltrim(split_part(quantity_position, '-', 2), '0'), 10, '0')
     WHERE quantity_position ~ '^[0-9]+-[0-9]+$'`,
  );
  await knex.raw('ALTER TABLE outbox ALTER COLUMN correlation_id TYPE varchar(64)');
}
