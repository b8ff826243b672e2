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

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE dead_letters
    ADD COLUMN reason_group text GENERATED ALWAYS AS (${REASON_GROUP}) STORED,
    ADD COLUMN position text,
    ADD COLUMN outbox_id bigint,
    ADD COLUMN occurred_at timestamptz,
    ADD COLUMN claimed_until timestamptz`);
  await knex.raw(`CREATE INDEX dead_letters_open_groups_idx ON dead_letters (source, reason_group)
    WHERE replayed_at IS NULL AND deleted_at IS NULL`);
  // One statement each: the form Citus (processed_messages distributed by message_id) takes.
  await knex.raw(
    'ALTER TABLE processed_messages ADD COLUMN made_here boolean NOT NULL DEFAULT false',
  );
  await knex.raw('ALTER TABLE processed_messages DROP CONSTRAINT processed_messages_pkey');
  await knex.raw('ALTER TABLE processed_messages ADD PRIMARY KEY (message_id, made_here)');
  await knex.schema.createTable('audit_log', (t) => {
    t.bigIncrements('id');
    t.timestamp('at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.string('actor', 16).notNullable();
    t.text('action').notNullable();
    t.text('target').notNullable();
    t.text('result').notNullable();
  });
  await knex.raw('CREATE INDEX audit_log_at_idx ON audit_log USING brin (at)');
  await installFunctions(knex);
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
