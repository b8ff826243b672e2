import type { Knex } from 'knex';
import { installFunctions } from './functions/write_side';

// apply_products_changes: a group commit's products in one call (adapters/postgres/group_commit.ts).
export async function up(knex: Knex): Promise<void> {
  await installFunctions(knex);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP FUNCTION IF EXISTS apply_products_changes(jsonb)');
  await knex.raw('DROP FUNCTION IF EXISTS product_changes_of(jsonb)');
}
