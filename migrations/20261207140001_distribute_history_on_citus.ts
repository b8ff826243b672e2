import type { Knex } from 'knex';

// On Citus (its extension installed in this database), history lives with the write side: by
// sku, co-located with products, so apply_product_changes' INSERT goes to the product's shard
// like its other statements and adds no shard to the transaction. An order's history is read
// by order id across every shard (one statement, fanned out; README "History" says why it is not
// routed). On any other PostgreSQL this does nothing.
export async function up(knex: Knex): Promise<void> {
  const { rows } = await knex.raw(`SELECT 1 FROM pg_extension WHERE extname = 'citus'`);
  if (rows.length === 0) return;
  await knex.raw(`SELECT create_distributed_table('history', 'sku', colocate_with => 'products')`);
}

export function down(): Promise<void> {
  return Promise.reject(new Error('irreversible: undistribute with undistribute_table() by hand'));
}
