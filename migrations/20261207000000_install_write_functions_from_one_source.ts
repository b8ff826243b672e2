import type { Knex } from 'knex';
import { installFunctions } from './functions/write_side';

// Installs the write-side functions from their one source (functions/write_side.ts). Their
// text is the one 20261127235100 made by reading the fourth form back and rewriting one
// statement; from here on the file is the only place that form lives.
export async function up(knex: Knex): Promise<void> {
  await installFunctions(knex);
}

export function down(): Promise<void> {
  return Promise.resolve(); // the same text as before: nothing to undo
}
