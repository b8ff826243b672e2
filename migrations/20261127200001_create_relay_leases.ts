import type { Knex } from 'knex';

// Leadership of the outbox relay (adapters/postgres/relay_lease.ts): one row per lease, free at first.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('relay_leases', (t) => {
    t.string('name', 64).primary();
    t.string('holder', 255).nullable();
    t.timestamp('expires_at', { useTz: true }).notNullable();
  });
  await knex('relay_leases').insert({ name: 'outbox_relay', expires_at: knex.raw("'-infinity'") });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('relay_leases');
}
