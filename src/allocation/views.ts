// The read side: plain SQL on the allocations_view read model, no domain needed.
import type { Knex } from 'knex';
import { queryPrepared } from './adapters/prepared';

export async function allocations(
  orderid: string,
  db: Knex,
): Promise<{ sku: string; batchref: string }[]> {
  const { rows } = await queryPrepared<{ sku: string; batchref: string }>(
    db,
    // a row whose batchref is null records a removal (see the migration that versions it)
    'SELECT sku, batchref FROM allocations_view WHERE orderid = ? AND batchref IS NOT NULL ORDER BY sku',
    [orderid],
  );
  return rows;
}

export interface ProductStock {
  sku: string;
  version: number;
  batches: {
    ref: string;
    eta: string | null;
    purchased: number;
    allocated: number;
    available: number;
  }[];
}

// One statement, so the version and the batches come from one snapshot. The order is the
// domain's allocation preference: warehouse stock (no eta) first, then earliest eta, ref breaking
// ties; COLLATE "C" compares refs by code point as the domain does, whatever the database locale.
const PRODUCT_STOCK = `
  SELECT p.version_number AS version, b.reference AS ref, to_char(b.eta, 'YYYY-MM-DD') AS eta,
         b.purchased_quantity AS purchased, b.allocated_quantity AS allocated
  FROM products p LEFT JOIN batches b ON b.sku = p.sku
  WHERE p.sku = ?
  ORDER BY b.eta ASC NULLS FIRST, b.reference COLLATE "C"`;

/** A product's stock per batch, in allocation preference order; undefined for an unknown sku. */
export async function productStock(sku: string, db: Knex): Promise<ProductStock | undefined> {
  const { rows } = await queryPrepared<{
    version: number;
    ref: string | null;
    eta: string | null;
    purchased: number;
    allocated: number;
  }>(db, PRODUCT_STOCK, [sku]);
  if (rows.length === 0) return undefined;
  return {
    sku,
    version: rows[0].version,
    batches: rows
      .filter((row) => row.ref !== null)
      .map((row) => ({
        ref: row.ref as string,
        eta: row.eta,
        purchased: row.purchased,
        allocated: row.allocated,
        available: row.purchased - row.allocated,
      })),
  };
}
