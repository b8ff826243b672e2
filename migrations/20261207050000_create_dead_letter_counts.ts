import type { Knex } from 'knex';
import { COUNT_DEAD_LETTERS, OPEN_DEAD_LETTERS_BY_SOURCE } from './functions/dead_letter_counts';

// Open dead letters (neither replayed nor discarded) by source, kept as dead letters are written,
// so /metrics reads a few rows (allocation_dead_letters_open) instead of counting a table that
// grows in an incident. Statement-level triggers with transition tables: a bulk replay or
// discard of 50,000 letters updates each source's row once, not 50,000 times.
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE dead_letter_counts (
      source varchar(255) PRIMARY KEY,
      open bigint NOT NULL DEFAULT 0)`);
  await knex.raw(COUNT_DEAD_LETTERS);
  await knex.raw(`
    CREATE TRIGGER dead_letters_counted_insert AFTER INSERT ON dead_letters
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION count_dead_letters();
    CREATE TRIGGER dead_letters_counted_update AFTER UPDATE ON dead_letters
      REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
      FOR EACH STATEMENT EXECUTE FUNCTION count_dead_letters();
    CREATE TRIGGER dead_letters_counted_delete AFTER DELETE ON dead_letters
      REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION count_dead_letters();
    CREATE TRIGGER dead_letters_counted_truncate AFTER TRUNCATE ON dead_letters
      FOR EACH STATEMENT EXECUTE FUNCTION count_dead_letters()`);
  // The letters already there, counted once, with writes held off meanwhile (this migration's
  // transaction keeps the lock until it commits).
  await knex.raw('LOCK TABLE dead_letters IN SHARE MODE');
  await knex.raw(`INSERT INTO dead_letter_counts (source, open) ${OPEN_DEAD_LETTERS_BY_SOURCE}`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP TRIGGER dead_letters_counted_insert ON dead_letters;
    DROP TRIGGER dead_letters_counted_update ON dead_letters;
    DROP TRIGGER dead_letters_counted_delete ON dead_letters;
    DROP TRIGGER dead_letters_counted_truncate ON dead_letters;
    DROP FUNCTION count_dead_letters();
    DROP TABLE dead_letter_counts`);
}
