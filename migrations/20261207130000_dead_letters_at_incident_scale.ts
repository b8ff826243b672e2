import type { Knex } from 'knex';
import { installFunctions } from './functions/write_side';

// Dead letters at incident scale, order-safe replay and the audit (issue 20, SPEC section 9):
// - reason_group: the reason with ids and numbers replaced by `*`, computed once when a row is
//   written (a stored generated column: the ALTER fills it for the rows already there), so
//   GET /dead_letters/groups is an indexed GROUP BY, not a regular expression per request. The
//   service's own UnknownBatch reason names a ref that may hold no digit: its ref is cut whole.
// - position: where an inbound change stood in its source's order (a stream entry id, or the
//   arrival of a pub/sub message), so a replay can tell a stale change from a fresh one.
// - outbox_id, occurred_at: an outbound message's identity, so its replay re-arms the same
//   message (same message_id, same occurred_at) instead of a new one.
// - claimed_until: a bulk replay's claim on a row while it is being replayed (crash: it lapses).
// - processed_messages.made_here: ids the service makes up (stream entries, dead-letter replays)
//   are kept apart from senders' ids, which may be any string of 1-255 characters.
// - audit_log: every operator action.
const REASON_GROUP = String.raw`left(regexp_replace(regexp_replace(reason,
    '^(UnknownBatch: Unknown batch ).*$', '\1*'), '\S*[0-9]\S*', '*', 'g'), 500)`;

// Not in one transaction: on plain PostgreSQL the inbox's new key is built CONCURRENTLY (the inbox
// may hold millions of ids, and building it under a lock would stop inbound messages meanwhile).
// So every step can run again after a failure halfway (IF NOT EXISTS).
export const config = { transaction: false };

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE dead_letters
    ADD COLUMN IF NOT EXISTS reason_group text GENERATED ALWAYS AS (${REASON_GROUP}) STORED,
    ADD COLUMN IF NOT EXISTS position text,
    ADD COLUMN IF NOT EXISTS outbox_id bigint,
    ADD COLUMN IF NOT EXISTS occurred_at timestamptz,
    ADD COLUMN IF NOT EXISTS claimed_until timestamptz`);
  await knex.raw(`CREATE INDEX IF NOT EXISTS dead_letters_open_groups_idx
    ON dead_letters (source, reason_group) WHERE replayed_at IS NULL AND deleted_at IS NULL`);
  await knex.raw(`ALTER TABLE processed_messages
    ADD COLUMN IF NOT EXISTS made_here boolean NOT NULL DEFAULT false`);
  await rekeyInbox(knex);
  await knex.raw(`CREATE TABLE IF NOT EXISTS audit_log (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    actor varchar(16) NOT NULL,
    action text NOT NULL,
    target text NOT NULL,
    result text NOT NULL)`);
  await knex.raw('CREATE INDEX IF NOT EXISTS audit_log_at_idx ON audit_log USING brin (at)');
  await installFunctions(knex);
}

/** The inbox's primary key becomes (message_id, made_here). */
async function rekeyInbox(knex: Knex): Promise<void> {
  const { rows } = await knex.raw<{ rows: { columns: string }[] }>(
    `SELECT string_agg(a.attname, ',' ORDER BY a.attnum) AS columns
     FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
     WHERE c.conname = 'processed_messages_pkey'`,
  );
  if (rows[0]?.columns === 'message_id,made_here') return; // done before
  const citus = await knex.raw<{ rows: unknown[] }>(
    `SELECT 1 FROM pg_extension WHERE extname = 'citus'`,
  );
  if (citus.rows.length > 0) {
    // One statement each: the form Citus (the inbox distributed by message_id) takes.
    await knex.raw('ALTER TABLE processed_messages DROP CONSTRAINT processed_messages_pkey');
    await knex.raw('ALTER TABLE processed_messages ADD PRIMARY KEY (message_id, made_here)');
    return;
  }
  // An index left invalid by a build that failed halfway is built again.
  await knex.raw('DROP INDEX CONCURRENTLY IF EXISTS processed_messages_new_pkey');
  await knex.raw(`CREATE UNIQUE INDEX CONCURRENTLY processed_messages_new_pkey
    ON processed_messages (message_id, made_here)`);
  // Only the swap takes the table's lock: a moment, with no index to build.
  await knex.transaction(async (trx) => {
    await trx.raw(`ALTER TABLE processed_messages DROP CONSTRAINT processed_messages_pkey,
      ADD CONSTRAINT processed_messages_pkey PRIMARY KEY USING INDEX processed_messages_new_pkey`);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('audit_log');
  await knex.raw(`DELETE FROM processed_messages WHERE made_here`);
  await knex.raw(`ALTER TABLE processed_messages DROP CONSTRAINT processed_messages_pkey,
    DROP COLUMN made_here, ADD PRIMARY KEY (message_id)`);
  await knex.raw('DROP INDEX dead_letters_open_groups_idx');
  await knex.raw(`ALTER TABLE dead_letters DROP COLUMN reason_group, DROP COLUMN position,
    DROP COLUMN outbox_id, DROP COLUMN occurred_at, DROP COLUMN claimed_until`);
}
