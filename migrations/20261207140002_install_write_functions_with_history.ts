import type { Knex } from 'knex';
import { installFunctions } from './functions/write_side';

// apply_product_changes writes the history rows, the stock-out flag, the outbox rows' cause and
// the read model's updated_at (20261207140000), from functions/write_side.ts.
export async function up(knex: Knex): Promise<void> {
  await installFunctions(knex);
}

export function down(): Promise<void> {
  return Promise.resolve(); // the earlier text is not kept: restore it from git by hand
}
