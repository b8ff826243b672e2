import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  // Source position of the last quantity change applied, so competing stream consumers cannot
  // let an older change overwrite a newer one.
  await knex.schema.alterTable('batches', (t) => {
    t.string('quantity_position', 64).nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('batches', (t) => {
    t.dropColumn('quantity_position');
  });
}
