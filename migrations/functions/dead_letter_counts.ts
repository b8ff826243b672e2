// The live text of count_dead_letters(), the trigger function that keeps dead_letter_counts
// (open dead letters by source, read by /metrics as allocation_dead_letters_open): one place, as
// functions/write_side.ts is for the write side. A change edits it here and adds a migration
// that runs COUNT_DEAD_LETTERS again.
const OPEN = 'replayed_at IS NULL AND deleted_at IS NULL';
const ADD_DELTAS = (deltas: string) => `
  INSERT INTO dead_letter_counts AS c (source, open)
  SELECT source, sum(delta) FROM (${deltas}) d GROUP BY source HAVING sum(delta) <> 0
  ON CONFLICT (source) DO UPDATE SET open = c.open + excluded.open`;
const FROM_NEW = `SELECT source, 1 AS delta FROM new_rows WHERE ${OPEN}`;
const FROM_OLD = `SELECT source, -1 AS delta FROM old_rows WHERE ${OPEN}`;

/**
 * Statement-level, on transition tables: one bulk replay updates each source's row once. A
 * TRUNCATE (no transition table) leaves nothing open.
 */
export const COUNT_DEAD_LETTERS = `
CREATE OR REPLACE FUNCTION count_dead_letters() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF TG_OP = 'INSERT' THEN ${ADD_DELTAS(FROM_NEW)};
  ELSIF TG_OP = 'UPDATE' THEN ${ADD_DELTAS(`${FROM_NEW} UNION ALL ${FROM_OLD}`)};
  ELSIF TG_OP = 'DELETE' THEN ${ADD_DELTAS(FROM_OLD)};
  ELSE UPDATE dead_letter_counts SET open = 0 WHERE open <> 0; -- TRUNCATE
  END IF;
  RETURN NULL;
END $fn$`;

/** The letters open now, counted once (when the counts are created). */
export const OPEN_DEAD_LETTERS_BY_SOURCE = `
SELECT source, count(*) FROM dead_letters WHERE ${OPEN} GROUP BY source`;
