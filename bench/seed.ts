// Test data written straight into the service's tables with set-based SQL (seconds, not minutes
// of HTTP), under names unique to the run so repeated runs never collide.
import type { Pool } from 'pg';

export const HUGE_STOCK = 1_000_000_000;

export interface SeededSku {
  sku: string;
  /** In allocation order: the warehouse batch first, then the shipments. */
  batchrefs: string[];
}

/**
 * `count` skus named `${prefix}-1..count`, each with one warehouse batch and `shipments`
 * shipments (like the yardstick's seed), every batch holding `stock` units.
 */
export async function seedSkus(
  pool: Pool,
  prefix: string,
  count: number,
  options: { shipments?: number; stock?: number } = {},
): Promise<SeededSku[]> {
  const shipments = options.shipments ?? 2;
  const stock = options.stock ?? HUGE_STOCK;
  await pool.query(
    `INSERT INTO products (sku, version_number)
     SELECT $1 || '-' || i, 0 FROM generate_series(1, $2::int) AS i`,
    [prefix, count],
  );
  await pool.query(
    `INSERT INTO batches (reference, sku, purchased_quantity, allocated_quantity, eta)
     SELECT $1 || '-' || i || '-b' || b, $1 || '-' || i, $3::int, 0,
            CASE WHEN b = 0 THEN NULL ELSE current_date + b * 7 END
     FROM generate_series(1, $2::int) AS i, generate_series(0, $4::int) AS b`,
    [prefix, count, stock, shipments],
  );
  // the reference -> sku lookup a quantity change reads (migration 20261127235000)
  await pool.query(
    `INSERT INTO batch_refs (reference, sku)
     SELECT b.reference, b.sku FROM batches b
     JOIN generate_series(1, $2::int) AS i ON b.sku = $1 || '-' || i`,
    [prefix, count],
  );
  return Array.from({ length: count }, (_, i) => ({
    sku: `${prefix}-${i + 1}`,
    batchrefs: Array.from({ length: shipments + 1 }, (__, b) => `${prefix}-${i + 1}-b${b}`),
  }));
}

/**
 * `n` earlier allocations of one unit each on the sku's warehouse batch, consistent across the
 * write side (order_lines, allocations, batches.allocated_quantity, products.version_number) and
 * the read model (allocations_view).
 */
export async function seedHistory(pool: Pool, seeded: SeededSku, n: number): Promise<void> {
  const client = await pool.connect();
  const batchref = seeded.batchrefs[0];
  const orderPrefix = `${seeded.sku}-old-`;
  try {
    await client.query('BEGIN');
    await client.query(
      `WITH line AS (
         INSERT INTO order_lines (orderid, sku, qty)
         SELECT $1 || n, $2, 1 FROM generate_series(1, $3::int) AS n RETURNING id)
       INSERT INTO allocations (sku, orderline_id, batch_id)
       SELECT b.sku, line.id, b.id FROM line, batches b WHERE b.reference = $4`,
      [orderPrefix, seeded.sku, n, batchref],
    );
    await client.query(
      'UPDATE batches SET allocated_quantity = allocated_quantity + $1 WHERE reference = $2',
      [n, batchref],
    );
    await client.query('UPDATE products SET version_number = version_number + $1 WHERE sku = $2', [
      n,
      seeded.sku,
    ]);
    // at the product's version after these allocations, as the relay would have written them
    await client.query(
      `INSERT INTO allocations_view (orderid, sku, batchref, version)
       SELECT $1 || n, $2::text, $3, p.version_number
       FROM generate_series(1, $4::int) AS n, products p WHERE p.sku = $2::text`,
      [orderPrefix, seeded.sku, batchref, n],
    );
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  } finally {
    client.release();
  }
  // As a long-lived sku's history would be: vacuumed and analysed, so that autovacuum does not
  // pick these tables up in the middle of the measurement.
  await pool.query('VACUUM ANALYZE order_lines, allocations, batches, products, allocations_view');
}

/** Read-model rows `${prefix}-1..n`, one allocation each, for the GET benchmark. */
export async function seedReadModel(pool: Pool, prefix: string, n: number): Promise<void> {
  await pool.query(
    `INSERT INTO allocations_view (orderid, sku, batchref)
     SELECT $1 || '-' || i, 'sku-' || (1 + i % 100), 'batch-' || (1 + i % 100)
     FROM generate_series(1, $2::int) AS i`,
    [prefix, n],
  );
  await pool.query('ANALYZE allocations_view');
}

export interface Consistency {
  batches: number;
  /** Batches holding more than they were bought with. */
  oversold: number;
  /** Batches whose allocated_quantity is not the sum of their allocated lines. */
  mismatched: number;
  /** Units allocated on these skus, and allocations recorded. */
  unitsAllocated: number;
  allocations: number;
}

/** Checks the invariant and the stored totals on the given skus. */
export async function checkConsistency(pool: Pool, skus: string[]): Promise<Consistency> {
  const { rows } = await pool.query(
    `SELECT b.reference, b.purchased_quantity, b.allocated_quantity,
            coalesce(sum(ol.qty), 0)::bigint AS lines_qty, count(a.id)::int AS allocations
     FROM batches b
     LEFT JOIN allocations a ON a.batch_id = b.id
     LEFT JOIN order_lines ol ON ol.id = a.orderline_id
     WHERE b.sku = ANY($1)
     GROUP BY b.id`,
    [skus],
  );
  const result: Consistency = {
    batches: rows.length,
    oversold: 0,
    mismatched: 0,
    unitsAllocated: 0,
    allocations: 0,
  };
  for (const row of rows) {
    const linesQty = Number(row.lines_qty);
    if (linesQty > row.purchased_quantity || row.allocated_quantity > row.purchased_quantity)
      result.oversold++;
    if (linesQty !== row.allocated_quantity) result.mismatched++;
    result.unitsAllocated += linesQty;
    result.allocations += row.allocations;
  }
  return result;
}

export async function purchasedQuantity(pool: Pool, batchref: string): Promise<number | undefined> {
  const { rows } = await pool.query('SELECT purchased_quantity FROM batches WHERE reference = $1', [
    batchref,
  ]);
  return rows[0]?.purchased_quantity;
}

/** Dead letters whose payload mentions `needle` (the run's prefix). */
export async function deadLetterCount(pool: Pool, needle: string): Promise<number> {
  const { rows } = await pool.query(
    'SELECT count(*)::int AS n FROM dead_letters WHERE position($1 in payload) > 0',
    [needle],
  );
  return rows[0].n;
}

/** The next transaction id: how many write transactions ran between two readings. */
export async function nextXid(pool: Pool): Promise<number> {
  const { rows } = await pool.query<{ xid: string }>(
    'SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS xid',
  );
  return Number(rows[0].xid);
}
