import type { Knex } from 'knex';

// Pause and circuit state per delivery handler (SPEC section 9, "Pause and resume"): read by
// every process's relay and consumer, so a pause holds across processes and restarts. One row
// per handler, present from the start, so a pause is one UPDATE.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('delivery_controls', (t) => {
    t.string('handler', 64).primary();
    t.timestamp('paused_at', { useTz: true }).nullable();
    t.timestamp('circuit_open_since', { useTz: true }).nullable();
  });
  await knex('delivery_controls').insert(
    ['line_allocated', 'email', 'inbound'].map((handler) => ({ handler })),
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('delivery_controls');
}
