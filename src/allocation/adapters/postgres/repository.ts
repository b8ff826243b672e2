import { Batch, OrderLine, Product } from '../../domain/model';
import type { ProductRepository } from '../../service_layer/unit_of_work';
import type { Query } from './prepared';

/** What a repository needs from its unit of work. */
export interface Session {
  /** Runs a statement on the pool, or in the unit's transaction once it has one. */
  query: Query;
  /**
   * Called before a sku is loaded: queues behind this process's other users of the sku and
   * decides how the unit writes; with `lock` (or when the sku is hot), locks its product row.
   * `lines`: at most how many lines the unit will allocate (see postgres_unit_of_work.ts).
   */
  claim(sku: string, options?: { lock?: boolean; lines?: number }): Promise<void>;
}

/** What a product looked like when loaded: commit sends only the difference. */
export interface Snapshot {
  version: number;
  batches: Map<string, { purchased: number; allocated: number; position: string | null }>;
  /** Every line loaded, by lineKey(ref, orderid). */
  lines: Map<string, { ref: string; orderid: string }>;
}

interface ProductRow {
  version_number: number;
  out_of_stock_notified: boolean;
  id: number | null;
  reference: string | null;
  purchased_quantity: number;
  allocated_quantity: number;
  quantity_position: string | null;
  eta: string | null;
  line_orderid: string | null;
  line_qty: number | null;
}

// One statement, so one snapshot: the version, the batches with their allocated totals, and
// only the lines of the given orders, so the cost does not grow with the sku's history. Whatever
// is read later, the version read here guards it: a change committed after this read makes
// this unit's commit fail.
// The lines are found first, by order id (index (orderid, sku), then allocations by their
// unique orderline_id), in a MATERIALIZED CTE so that no plan can start from a batch instead:
// as a LATERAL join per batch, PostgreSQL planned "every allocation of the batch, then filter
// by order" whenever its statistics were missing (a database autovacuum had not analysed yet
// said 15 rows a batch): 10.7 ms a load instead of 0.04 on a hot sku with 11,000 lines,
// 0.25-0.39 x the allocations per second until a VACUUM ANALYZE (issue 23, bench hotfresh).
const loadProduct = (orderMatches: string) => `
  WITH l AS MATERIALIZED (
    SELECT a.batch_id, ol.orderid, ol.qty FROM order_lines ol
    JOIN allocations a ON a.orderline_id = ol.id AND a.sku = ol.sku
    WHERE ${orderMatches} AND ol.sku = $2 AND a.sku = $2)
  SELECT p.version_number, p.out_of_stock_notified, b.id, b.reference, b.purchased_quantity,
         b.allocated_quantity, b.quantity_position, b.eta,
         l.orderid AS line_orderid, l.qty AS line_qty
  FROM products p
  LEFT JOIN batches b ON b.sku = p.sku
  LEFT JOIN l ON l.batch_id = b.id
  WHERE p.sku = $2
  ORDER BY b.id`;
// An allocation names one order (a quantity change none: null): with `= $1` PostgreSQL plans the statement once per connection
// and reuses the plan. With `= ANY($1)` it judged its reusable plan dearer than a fresh one and
// planned again on every call: 330 us of PostgreSQL CPU per load instead of 47 (measured one
// connection at a time, 2026-11-27), which was most of the write path's regression in
// BENCHMARKS.md (spread c16, PostgreSQL CPU per allocation 0.46 -> 1.0 ms).
const LOAD_PRODUCT_FOR_ORDER = loadProduct('ol.orderid = $1');
// Several orders (a batch of allocations, re-allocating freed lines): planned per call.
// (exported for the plan test in tests/integration/repository.test.ts)
export const LOAD_PRODUCT_FOR_ORDERS = loadProduct('ol.orderid = ANY($1::text[])');

// A batch's lines, newest first, a page at a time (index allocations (batch_id, id)): a
// quantity change reads only as far back as the lines it frees. Every statement names the sku,
// so on Citus it runs on the product's shard alone.
const NEWEST_LINES = `
  SELECT a.id, ol.orderid, ol.qty FROM allocations a
  JOIN order_lines ol ON ol.id = a.orderline_id AND ol.sku = a.sku
  WHERE a.sku = $4 AND a.batch_id = $1 AND a.id < $2::bigint
  ORDER BY a.id DESC LIMIT $3`;
const PAGE = 1_000;

export class PostgresRepository implements ProductRepository {
  readonly seen = new Set<Product>();
  readonly snapshots = new Map<Product, Snapshot>();

  constructor(private readonly session: Session) {}

  add(product: Product): void {
    this.seen.add(product);
  }

  async get(sku: string, opts: { orderids?: string[] } = {}): Promise<Product | undefined> {
    const orderids = opts.orderids ?? [];
    // an unlocked load frees no line and allocates at most one per order
    await this.session.claim(sku, { lines: orderids.length });
    const rows =
      orderids.length <= 1
        ? await this.session.query<ProductRow>(LOAD_PRODUCT_FOR_ORDER, [orderids[0] ?? null, sku])
        : await this.session.query<ProductRow>(LOAD_PRODUCT_FOR_ORDERS, [orderids, sku]);
    return rows.length === 0 ? undefined : this.build(sku, rows, new Map());
  }

  async getForQuantityChange(ref: string, qty: number): Promise<Product | undefined> {
    // The sku by reference from its lookup table: one shard on Citus (batches is by sku).
    const [found] = await this.session.query<{ sku: string }>(
      'SELECT sku FROM batch_refs WHERE reference = $1',
      [ref],
    );
    if (!found) return undefined;
    // Under the product's row lock: the batch cannot change between the reads below, and
    // allocations from other processes wait instead of starving this change of every attempt.
    await this.session.claim(found.sku, { lock: true });
    const rows = await this.session.query<ProductRow>(LOAD_PRODUCT_FOR_ORDER, [null, found.sku]);
    const batch = rows.find((r) => r.reference === ref);
    if (!batch || batch.id === null) return undefined;
    const lines = await this.newestLines(found.sku, batch.id, batch.allocated_quantity - qty);
    return this.build(found.sku, rows, new Map([[batch.id, lines]]));
  }

  /** The newest lines of a batch that add up to at least `excess`, oldest first. */
  private async newestLines(sku: string, batchId: number, excess: number): Promise<OrderLine[]> {
    const lines: OrderLine[] = [];
    let [freed, before] = [0, Number.MAX_SAFE_INTEGER];
    while (freed < excess) {
      const page = await this.session.query<{ id: number; orderid: string; qty: number }>(
        NEWEST_LINES,
        [batchId, before, PAGE, sku],
      );
      for (const row of page) {
        if (freed >= excess) break;
        lines.push(new OrderLine(row.orderid, sku, row.qty));
        freed += row.qty;
      }
      if (page.length < PAGE) break;
      before = page[page.length - 1].id;
    }
    return lines.reverse();
  }

  private build(sku: string, rows: ProductRow[], linesOf: Map<number, OrderLine[]>): Product {
    const batches = new Map<number, { row: ProductRow; lines: OrderLine[] }>();
    for (const row of rows) {
      if (row.id === null) continue;
      const batch = batches.get(row.id) ?? { row, lines: [...(linesOf.get(row.id) ?? [])] };
      if (row.line_orderid !== null) {
        batch.lines.push(new OrderLine(row.line_orderid, sku, row.line_qty ?? 0));
      }
      batches.set(row.id, batch);
    }
    const restored = [...batches.values()].map(({ row, lines }) =>
      Batch.restore(
        row.reference as string,
        sku,
        row.purchased_quantity,
        row.eta,
        row.allocated_quantity,
        lines,
        row.quantity_position,
      ),
    );
    const product = new Product(
      sku,
      restored,
      rows[0].version_number,
      rows[0].out_of_stock_notified,
    );
    this.snapshots.set(product, snapshotOf(product));
    this.seen.add(product);
    return product;
  }
}

function snapshotOf(product: Product): Snapshot {
  const batches = product.batches.map((b) => ({
    ref: b.reference,
    purchased: b.purchasedQuantity,
    allocated: b.allocatedQuantity,
    position: b.quantityPosition,
  }));
  const lines = product.batches.flatMap((b) =>
    b.allocations.map((l) => ({ ref: b.reference, orderid: l.orderid })),
  );
  return {
    version: product.versionNumber,
    batches: new Map(batches.map((b) => [b.ref, b])),
    lines: new Map(lines.map((l) => [lineKey(l.ref, l.orderid), l])),
  };
}

export function lineKey(ref: string, orderid: string): string {
  return JSON.stringify([ref, orderid]);
}
