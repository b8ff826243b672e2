import type { Knex } from 'knex';
import { Batch, OrderLine, Product } from '../domain/model';
import { DuplicateBatch } from '../service_layer/handlers';
import { ConcurrencyError, type ProductRepository } from '../service_layer/unit_of_work';
import { isUniqueViolation } from './db';

/** What was loaded, so commit writes only what changed (knex has no change tracking). */
interface Loaded {
  version: number;
  batches: Map<string, { id: number; purchased: number; allocated: number; lines: Set<string> }>;
}

interface BatchRow {
  version_number: number;
  id: number | null;
  reference: string | null;
  purchased_quantity: number;
  allocated_quantity: number;
  eta: string | null;
  line_orderid: string | null;
  line_qty: number | null;
}

// One round trip: the product, its batches, and at most the one line of `orderid` (found
// through the (orderid, sku) index, so the cost does not grow with the sku's history).
const LOAD_PRODUCT = `
  SELECT p.version_number, b.id, b.reference, b.purchased_quantity, b.allocated_quantity, b.eta,
         l.orderid AS line_orderid, l.qty AS line_qty
  FROM products p
  LEFT JOIN batches b ON b.sku = p.sku
  LEFT JOIN LATERAL (
    SELECT ol.orderid, ol.qty FROM order_lines ol JOIN allocations a ON a.orderline_id = ol.id
    WHERE ol.orderid = ? AND ol.sku = p.sku AND a.batch_id = b.id
  ) l ON true
  WHERE p.sku = ?`;

/**
 * Skus that recently lost a version race. Loads of a hot sku lock its product row, so writers
 * queue on the lock instead of failing and retrying; cold skus stay lock-free.
 */
export class HotSkus {
  private readonly until = new Map<string, number>();

  constructor(private readonly ttlMs = 5_000) {}

  mark(sku: string): void {
    this.until.set(sku, Date.now() + this.ttlMs);
  }

  has(sku: string): boolean {
    const until = this.until.get(sku);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    this.until.delete(sku);
    return false;
  }
}

export class KnexRepository implements ProductRepository {
  readonly seen = new Set<Product>();
  private readonly loaded = new Map<Product, Loaded>();

  constructor(
    private readonly trx: Knex.Transaction,
    private readonly hotSkus: HotSkus,
  ) {}

  add(product: Product): void {
    this.seen.add(product);
  }

  async get(sku: string, opts: { orderid?: string } = {}): Promise<Product | undefined> {
    return this.load(sku, opts.orderid ?? null);
  }

  async getByBatchref(ref: string): Promise<Product | undefined> {
    const batch = await this.trx('batches').first('id', 'sku').where({ reference: ref });
    if (!batch) return undefined;
    const lines = await this.trx('allocations as a')
      .join('order_lines as ol', 'ol.id', 'a.orderline_id')
      .where('a.batch_id', batch.id)
      .orderBy('a.id')
      .select('ol.orderid', 'ol.sku', 'ol.qty');
    return this.load(
      batch.sku,
      null,
      new Map([[batch.id, lines.map((l) => new OrderLine(l.orderid, l.sku, l.qty))]]),
    );
  }

  private async load(
    sku: string,
    orderid: string | null,
    linesByBatch = new Map<number, OrderLine[]>(),
  ): Promise<Product | undefined> {
    if (this.hotSkus.has(sku)) {
      await this.trx.raw('SELECT 1 FROM products WHERE sku = ? FOR UPDATE', [sku]);
    }
    const { rows } = await this.trx.raw<{ rows: BatchRow[] }>(LOAD_PRODUCT, [orderid, sku]);
    if (rows.length === 0) return undefined;

    const loaded: Loaded = { version: rows[0].version_number, batches: new Map() };
    const batches = rows
      .filter((r) => r.id !== null)
      .map((r) => {
        const id = r.id as number;
        const lines = linesByBatch.get(id) ?? [];
        if (r.line_orderid !== null)
          lines.push(new OrderLine(r.line_orderid, sku, r.line_qty ?? 0));
        loaded.batches.set(r.reference as string, {
          id,
          purchased: r.purchased_quantity,
          allocated: r.allocated_quantity,
          lines: new Set(lines.map((l) => l.orderid)),
        });
        return Batch.restore(
          r.reference as string,
          sku,
          r.purchased_quantity,
          r.eta,
          r.allocated_quantity,
          lines,
        );
      });
    const product = new Product(sku, batches, loaded.version);
    this.loaded.set(product, loaded);
    this.seen.add(product);
    return product;
  }

  /** Writes back every product seen, each guarded by the version it was loaded at. */
  async saveAll(): Promise<void> {
    for (const product of this.seen) {
      try {
        await this.save(product);
      } catch (error) {
        if (error instanceof ConcurrencyError) this.hotSkus.mark(product.sku);
        throw error;
      }
    }
  }

  private async save(product: Product): Promise<void> {
    const loaded = this.loaded.get(product);
    if (loaded && loaded.version === product.versionNumber) return; // unchanged
    await this.saveVersion(product, loaded);
    for (const batch of product.batches) {
      const before = loaded?.batches.get(batch.reference);
      const batchId = before?.id ?? (await this.insertBatch(batch));
      if (
        before &&
        (before.purchased !== batch.purchasedQuantity ||
          before.allocated !== batch.allocatedQuantity)
      ) {
        await this.trx('batches').where({ id: batchId }).update({
          purchased_quantity: batch.purchasedQuantity,
          allocated_quantity: batch.allocatedQuantity,
        });
      }
      await this.saveLines(batch, batchId, before?.lines ?? new Set());
    }
  }

  private async saveVersion(product: Product, loaded: Loaded | undefined): Promise<void> {
    if (!loaded) {
      try {
        await this.trx('products').insert({
          sku: product.sku,
          version_number: product.versionNumber,
        });
      } catch (error) {
        // Another transaction created the same sku first: reload and try again.
        if (isUniqueViolation(error, 'products_pkey')) throw this.conflict(product);
        throw error;
      }
      return;
    }
    // The version check: two transactions that change one product can never both commit.
    const updated = await this.trx('products')
      .where({ sku: product.sku, version_number: loaded.version })
      .update({ version_number: product.versionNumber });
    if (updated === 0) throw this.conflict(product);
  }

  private conflict(product: Product): ConcurrencyError {
    return new ConcurrencyError(`Product ${product.sku} was changed by another transaction`);
  }

  private async insertBatch(batch: Batch): Promise<number> {
    try {
      const [{ id }] = await this.trx('batches')
        .insert({
          reference: batch.reference,
          sku: batch.sku,
          purchased_quantity: batch.purchasedQuantity,
          allocated_quantity: batch.allocatedQuantity,
          eta: batch.eta,
        })
        .returning('id');
      return id as number;
    } catch (error) {
      if (isUniqueViolation(error, 'batches_reference_unique')) {
        throw new DuplicateBatch(`Batch ${batch.reference} already exists`);
      }
      throw error;
    }
  }

  private async saveLines(batch: Batch, batchId: number, before: Set<string>): Promise<void> {
    const now = batch.allocations;
    const removed = [...before].filter((orderid) => !now.some((l) => l.orderid === orderid));
    const added = now.filter((l) => !before.has(l.orderid));
    if (removed.length > 0) {
      await this.trx.raw(
        `DELETE FROM allocations WHERE batch_id = ? AND orderline_id IN
           (SELECT id FROM order_lines WHERE sku = ? AND orderid = ANY(?))`,
        [batchId, batch.sku, removed],
      );
    }
    if (added.length > 0) {
      // A freed line keeps its order_lines row; allocating it again reuses that row.
      const values = added.map(() => '(?, ?, ?)').join(', ');
      await this.trx.raw(
        `WITH line AS (
           INSERT INTO order_lines (orderid, sku, qty) VALUES ${values}
           ON CONFLICT (orderid, sku) DO UPDATE SET qty = EXCLUDED.qty RETURNING id)
         INSERT INTO allocations (orderline_id, batch_id) SELECT id, ? FROM line`,
        [...added.flatMap((l) => [l.orderid, l.sku, l.qty]), batchId],
      );
    }
  }
}
