import type { Knex } from 'knex';
import { Batch, OrderLine, Product } from '../domain/model';
import { ConcurrencyError } from '../service_layer/errors';
import type { ProductRepository } from '../service_layer/unit_of_work';
import { queryPrepared } from './prepared';
import { CHECKS_PASSED, type WritePlan } from './write_plan';

/** What a repository needs from its unit of work. */
export interface Session {
  /** Where reads go: the pool, or the transaction once one was needed. */
  runner(): Knex | Knex.Transaction;
  /** Called before a sku is loaded (see KnexUnitOfWork.claim). */
  claim(sku: string): Promise<void>;
}

/** What was loaded, so commit writes only what changed (knex has no change tracking). */
interface Loaded {
  version: number;
  batches: Map<
    string,
    {
      id: number;
      purchased: number;
      allocated: number;
      position: string | null;
      lines: Set<string>;
    }
  >;
}

interface ProductRow {
  version_number: number;
  id: number | null;
  reference: string | null;
  purchased_quantity: number;
  allocated_quantity: number;
  quantity_position: string | null;
  eta: string | null;
  line_orderid: string | null;
  line_qty: number | null;
}

// One statement, so one snapshot: the version, the batches with their allocated totals, and at
// most the one line of `orderid`, found through the (orderid, sku) index so the cost does not
// grow with the sku's history. Whatever is read later, the version read here guards it: any
// change committed after this read bumps the version and fails this unit's write.
const LOAD_PRODUCT = `
  SELECT p.version_number, b.id, b.reference, b.purchased_quantity, b.allocated_quantity,
         b.quantity_position, b.eta,
         l.orderid AS line_orderid, l.qty AS line_qty
  FROM products p
  LEFT JOIN batches b ON b.sku = p.sku
  LEFT JOIN LATERAL (
    SELECT ol.orderid, ol.qty FROM order_lines ol JOIN allocations a ON a.orderline_id = ol.id
    WHERE ol.orderid = ? AND ol.sku = p.sku AND a.batch_id = b.id
  ) l ON true
  WHERE p.sku = ?
  ORDER BY b.id`;

export class KnexRepository implements ProductRepository {
  readonly seen = new Set<Product>();
  private readonly loaded = new Map<Product, Loaded>();

  constructor(private readonly session: Session) {}

  add(product: Product): void {
    this.seen.add(product);
  }

  async get(sku: string, opts: { orderid?: string } = {}): Promise<Product | undefined> {
    await this.session.claim(sku);
    const rows = await this.productRows(sku, opts.orderid ?? null);
    return rows.length === 0 ? undefined : this.build(sku, rows, new Map());
  }

  async getByBatchref(ref: string): Promise<Product | undefined> {
    const batch = await this.session
      .runner()('batches')
      .first('id', 'sku')
      .where({ reference: ref });
    if (!batch) return undefined;
    await this.session.claim(batch.sku);
    const rows = await this.productRows(batch.sku, null);
    const lines = await this.session
      .runner()('allocations as a')
      .join('order_lines as ol', 'ol.id', 'a.orderline_id')
      .where('a.batch_id', batch.id)
      .orderBy('a.id')
      .select('ol.orderid', 'ol.sku', 'ol.qty');
    const known = lines.map((l) => new OrderLine(l.orderid, l.sku, l.qty));
    // Outside a transaction the two reads are two snapshots: if a change committed between
    // them, the lines do not add up to the batch's total. Reload rather than act on that.
    const total = rows.find((r) => r.id === batch.id)?.allocated_quantity;
    if (total !== known.reduce((sum, l) => sum + l.qty, 0)) {
      throw new ConcurrencyError(`Batch ${ref} changed while it was loaded`);
    }
    return this.build(batch.sku, rows, new Map([[batch.id as number, known]]));
  }

  private async productRows(sku: string, orderid: string | null): Promise<ProductRow[]> {
    const { rows } = await queryPrepared<ProductRow>(this.session.runner(), LOAD_PRODUCT, [
      orderid,
      sku,
    ]);
    return rows;
  }

  private build(sku: string, rows: ProductRow[], linesByBatch: Map<number, OrderLine[]>): Product {
    const loaded: Loaded = { version: rows[0].version_number, batches: new Map() };
    const batches = rows
      .filter((r) => r.id !== null)
      .map((r) => {
        const [id, reference] = [r.id as number, r.reference as string];
        const lines = [...(linesByBatch.get(id) ?? [])];
        if (r.line_orderid !== null)
          lines.push(new OrderLine(r.line_orderid, sku, r.line_qty ?? 0));
        loaded.batches.set(reference, {
          id,
          purchased: r.purchased_quantity,
          allocated: r.allocated_quantity,
          position: r.quantity_position,
          lines: new Set(lines.map((l) => l.orderid)),
        });
        return Batch.restore(
          reference,
          sku,
          r.purchased_quantity,
          r.eta,
          r.allocated_quantity,
          lines,
          r.quantity_position,
        );
      });
    const product = new Product(sku, batches, loaded.version);
    this.loaded.set(product, loaded);
    this.seen.add(product);
    return product;
  }

  /** Adds the writes for every product seen, each guarded by the version it was loaded at. */
  planWrites(plan: WritePlan): void {
    for (const product of this.seen) {
      const loaded = this.loaded.get(product);
      if (loaded && loaded.version === product.versionNumber) continue; // unchanged
      this.planVersion(plan, product, loaded);
      for (const batch of product.batches) {
        const before = loaded?.batches.get(batch.reference);
        const batchId = before
          ? { sql: '?::int', bindings: [before.id] }
          : this.planInsert(plan, batch);
        if (
          before &&
          (before.purchased !== batch.purchasedQuantity ||
            before.allocated !== batch.allocatedQuantity ||
            before.position !== batch.quantityPosition)
        ) {
          plan.write(
            `UPDATE batches SET purchased_quantity = ?, allocated_quantity = ?, quantity_position = ?
             WHERE id = ? AND ${CHECKS_PASSED}`,
            [batch.purchasedQuantity, batch.allocatedQuantity, batch.quantityPosition, before.id],
          );
        }
        this.planLines(plan, batch, batchId, before?.lines ?? new Set());
      }
    }
  }

  private planVersion(plan: WritePlan, product: Product, loaded: Loaded | undefined): void {
    if (!loaded) {
      // A new sku: if another transaction created it first, this check fails and we retry.
      plan.check(
        `INSERT INTO products (sku, version_number) VALUES (?, ?)
         ON CONFLICT (sku) DO NOTHING RETURNING 1`,
        [product.sku, product.versionNumber],
      );
      return;
    }
    // The version check: two units of work that change one product can never both commit.
    plan.check(
      `UPDATE products SET version_number = ?
       WHERE sku = ? AND version_number = ? RETURNING 1`,
      [product.versionNumber, product.sku, loaded.version],
    );
  }

  /** Returns SQL for the new batch's id, read from the insert's RETURNING. */
  private planInsert(plan: WritePlan, batch: Batch): { sql: string; bindings: unknown[] } {
    const name = plan.write(
      `INSERT INTO batches (reference, sku, purchased_quantity, allocated_quantity, eta)
       SELECT ?::text, ?::text, ?::int, ?::int, ?::date WHERE ${CHECKS_PASSED} RETURNING id`,
      [batch.reference, batch.sku, batch.purchasedQuantity, batch.allocatedQuantity, batch.eta],
    );
    return { sql: `(SELECT id FROM ${name})`, bindings: [] };
  }

  private planLines(
    plan: WritePlan,
    batch: Batch,
    batchId: { sql: string; bindings: unknown[] },
    before: Set<string>,
  ): void {
    const now = batch.allocations;
    const removed = [...before].filter((orderid) => !now.some((l) => l.orderid === orderid));
    const added = now.filter((l) => !before.has(l.orderid));
    if (removed.length > 0) {
      plan.write(
        `DELETE FROM allocations WHERE batch_id = ${batchId.sql} AND orderline_id IN
           (SELECT id FROM order_lines WHERE sku = ? AND orderid = ANY(?)) AND ${CHECKS_PASSED}`,
        [...batchId.bindings, batch.sku, removed],
      );
    }
    if (added.length > 0) {
      // A freed line keeps its order_lines row; allocating it again reuses that row.
      const values = added.map(() => '(?::text, ?::text, ?::int)').join(', ');
      const lines = plan.write(
        `INSERT INTO order_lines (orderid, sku, qty)
         SELECT * FROM (VALUES ${values}) AS v (orderid, sku, qty) WHERE ${CHECKS_PASSED}
         ON CONFLICT (orderid, sku) DO UPDATE SET qty = EXCLUDED.qty RETURNING id`,
        added.flatMap((l) => [l.orderid, l.sku, l.qty]),
      );
      plan.write(
        `INSERT INTO allocations (orderline_id, batch_id) SELECT id, ${batchId.sql} FROM ${lines}`,
        batchId.bindings,
      );
    }
  }
}
