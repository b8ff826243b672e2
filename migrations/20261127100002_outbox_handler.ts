import type { Knex } from 'knex';

// One outbox row per event handler (EVENT_HANDLERS in service_layer/handlers.ts), so each
// handler is retried on its own and a failing one (Redis down, say) holds back no other
// (the read model keeps up while publishing waits).
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE outbox ADD COLUMN handler varchar(64) NOT NULL DEFAULT ''`);
  // Rows written before this change: their event's handlers, one row each.
  await knex.raw(`
    UPDATE outbox SET handler = CASE type
      WHEN 'Allocated' THEN 'line_allocated' WHEN 'Deallocated' THEN 'reallocate'
      ELSE 'email' END`);
  await knex.raw(`
    INSERT INTO outbox (key, type, handler, payload, correlation_id, created_at)
    SELECT key, type, 'read_model', payload, correlation_id, created_at FROM outbox
    WHERE delivered_at IS NULL AND type IN ('Allocated', 'Deallocated')`);
  await knex.raw('ALTER TABLE outbox ALTER COLUMN handler DROP DEFAULT');
  // The relay keeps order per (key, type, handler) and skips one whose earlier row backs off.
  await knex.raw('DROP INDEX outbox_pending_key_idx');
  await knex.raw(
    'CREATE INDEX outbox_pending_key_idx ON outbox (key, type, handler, id) WHERE delivered_at IS NULL',
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX outbox_pending_key_idx');
  await knex.raw(`DELETE FROM outbox WHERE handler = 'read_model'`);
  await knex.raw('ALTER TABLE outbox DROP COLUMN handler');
  await knex.raw(
    'CREATE INDEX outbox_pending_key_idx ON outbox (key, type, id) WHERE delivered_at IS NULL',
  );
}
