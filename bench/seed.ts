// Test data written straight into the service's tables with set-based SQL (seconds, not minutes
// of HTTP), under names unique to the run, and the checks read back from them.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Pool } from 'pg';

/** A seeded sku and its batches in allocation order: the warehouse batch, then shipments. */
export type SeededSku = { sku: string; batchrefs: string[] };

/** Skus `${prefix}-1..count`, each with a warehouse batch and `shipments` shipments. */
export async function seedSkus(
  pool: Pool,
  prefix: string,
  count: number,
  { shipments = 2, stock = 1_000_000_000 } = {},
): Promise<SeededSku[]> {
  const sku = `$1 || '-' || i`;
  const skus = 'generate_series(1, $2::int) AS i';
  await pool.query(`INSERT INTO products (sku, version_number) SELECT ${sku}, 0 FROM ${skus}`, [
    prefix,
    count,
  ]);
  await pool.query(
    `INSERT INTO batches (reference, sku, purchased_quantity, allocated_quantity, eta)
     SELECT ${sku} || '-b' || b, ${sku}, $3::int, 0,
            CASE WHEN b = 0 THEN NULL ELSE current_date + b * 7 END
     FROM ${skus}, generate_series(0, $4::int) AS b`,
    [prefix, count, stock, shipments],
  );
  // the reference -> sku lookup a quantity change reads (migration 20261127235000)
  await pool.query(
    `INSERT INTO batch_refs (reference, sku)
     SELECT b.reference, b.sku FROM batches b JOIN ${skus} ON b.sku = ${sku}`,
    [prefix, count],
  );
  return Array.from({ length: count }, (_, i) => ({
    sku: `${prefix}-${i + 1}`,
    batchrefs: Array.from({ length: shipments + 1 }, (__, b) => `${prefix}-${i + 1}-b${b}`),
  }));
}

/**
 * `n` earlier one-unit allocations on the sku's warehouse batch, consistent across the write
 * side and the read model (at the product's version after them, as the service writes them).
 */
export async function seedHistory(pool: Pool, seeded: SeededSku, n: number): Promise<void> {
  // one statement, so all or nothing; `product` returns the version after these allocations
  await pool.query(
    `WITH line AS (INSERT INTO order_lines (orderid, sku, qty)
         SELECT $1::text || i, $2::text, 1 FROM generate_series(1, $3::int) AS i RETURNING id),
       allocation AS (INSERT INTO allocations (sku, orderline_id, batch_id)
         SELECT b.sku, line.id, b.id FROM line, batches b WHERE b.reference = $4::text),
       batch AS (UPDATE batches SET allocated_quantity = allocated_quantity + $3::int
         WHERE reference = $4::text),
       product AS (UPDATE products SET version_number = version_number + $3::int
         WHERE sku = $2::text RETURNING version_number)
     INSERT INTO allocations_view (orderid, sku, batchref, version)
     SELECT $1::text || i, $2::text, $4::text, product.version_number
     FROM generate_series(1, $3::int) AS i, product`,
    [`${seeded.sku}-old-`, seeded.sku, n, seeded.batchrefs[0]],
  );
  // as a long-lived sku's tables would be: vacuumed, so autovacuum does not start mid-measurement
  await pool.query('VACUUM ANALYZE order_lines, allocations, batches, products, allocations_view');
}

/** Over some skus: batches holding more than they were bought with, or other than their lines. */
export async function checkConsistency(pool: Pool, skus: string[]) {
  const { rows } = await pool.query<{ oversold: number; mismatched: number; units: number }>(
    `SELECT count(*) FILTER (WHERE lines > bought OR allocated > bought)::int AS oversold,
            count(*) FILTER (WHERE lines <> allocated)::int AS mismatched,
            coalesce(sum(lines), 0)::int AS units
     FROM (SELECT b.purchased_quantity AS bought, b.allocated_quantity AS allocated,
                  coalesce(sum(ol.qty), 0) AS lines
           FROM batches b
           LEFT JOIN allocations a ON a.batch_id = b.id
           LEFT JOIN order_lines ol ON ol.id = a.orderline_id
           WHERE b.sku = ANY($1) GROUP BY b.id) AS per_batch`,
    [skus],
  );
  return rows[0];
}

/** The first column of the first row, as a number. */
export async function queryNumber(pool: Pool, sql: string, params: unknown[] = []) {
  const { rows } = await pool.query({ text: sql, values: params, rowMode: 'array' });
  return Number(rows[0]?.[0]);
}

/** The next transaction id: how many write transactions ran between two readings. */
export function nextXid(pool: Pool): Promise<number> {
  return queryNumber(pool, 'SELECT pg_snapshot_xmax(pg_current_snapshot())::text');
}

/** Polls `done` every `everyMs` until it holds; false if it did not within `limitMs`. */
export async function waitUntil(done: () => Promise<boolean>, everyMs: number, limitMs = 300_000) {
  for (const end = Date.now() + limitMs; !(await done()); await sleep(everyMs)) {
    if (Date.now() > end) return false;
  }
  return true;
}
