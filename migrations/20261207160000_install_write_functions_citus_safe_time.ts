import type { Knex } from 'knex';
import { installFunctions } from './functions/write_side';

// apply_product_changes reads the commit's time once into a variable: Citus refused the
// function call (now()) in the read model's ON CONFLICT DO UPDATE ("functions used in the DO
// UPDATE SET clause of INSERTs on distributed tables must be marked IMMUTABLE"), so every
// allocation failed there. The history rows take the same time.
export async function up(knex: Knex): Promise<void> {
  await installFunctions(knex);
}

export function down(): Promise<void> {
  return Promise.resolve(); // the earlier text is not kept: installFunctions is the one source
}
