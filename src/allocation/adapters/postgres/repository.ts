import { Batch, OrderLine, Product } from '../../domain/model';
import type { ProductRepository } from '../../service_layer/unit_of_work';
import type { Query } from './prepared';

/** What a repository needs from its unit of work. */
export interface Session {
  /** Runs a statement on the pool, or in the unit's transaction once it has one. */
  query: Query;
  /**
   * LOAD_PRODUCT's rows for `sku` and the orders of `orderidsJson` (a JSON array): in the
   * unit's transaction once it has one, else with the other loads of this turn (group_load.ts).
   */
  load<R>(sku: string, orderidsJson: string): Promise<R[]>;
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
// The lines are found order by order: each order id through the unique index (orderid, sku),
// then its allocation through the unique orderline_id, each a LATERAL subquery with LIMIT 1 (an
// order has at most one line per sku, a line one allocation), in a MATERIALIZED CTE. That shape
// leaves the planner no plan but those two index lookups, whatever its statistics say. The join
// it replaces (order_lines JOIN allocations, `ol.orderid = ANY($1)` or `= $1`) had two others:
// - "every allocation of the batch, then filter by order", when statistics a database had not
//   analysed yet said 15 rows a batch: 10.7 ms a load instead of 0.04 on a hot sku;
// - a sequential scan of order_lines and allocations per load, in the generic plan a connection
//   made in a new database's first seconds, while the tables were a few pages, and kept until an
//   autovacuum's ANALYZE replaced it: a load cost more with every allocation. make bench's hot
//   c32 runs on a new database: 5 runs of 12 one afternoon (2026-12-07) kept that plan, 0.9-1.6
//   ms of PostgreSQL per load instead of 0.03, 0.19-0.48 ms of its CPU per allocation instead
//   of 0.08-0.09, and 1,859-3,603 allocations/s instead of 4,800-5,550. None of 20 since.
// The price: 4-6 us of PostgreSQL CPU more per load (about 60 us for one order, 125 for 15,
// on an analysed database; 8 alternating rounds).
// One statement for one order, several, or none (a quantity change), planned once per
// connection: the order ids come as a JSON array, whose elements PostgreSQL estimates at 100
// whether it sees the value or not, so a plan for the values given never looks cheaper than the
// generic one. Given `unnest($1::text[])`, it saw each array's length, judged a fresh plan for
// one order 10 times cheaper than the generic one (which counts 10) and planned every load
// again: +0.25 ms of PostgreSQL CPU per allocation at spread c1.
// tests/integration/repository.test.ts checks both: the generic plan on empty tables, and that
// a connection settles on it.
export const LOAD_PRODUCT = `
  WITH l AS MATERIALIZED (
    SELECT a.batch_id, ol.orderid, ol.qty FROM jsonb_array_elements_text($1::jsonb) AS o (orderid)
    CROSS JOIN LATERAL (SELECT id, orderid, qty FROM order_lines
      WHERE orderid = o.orderid AND sku = $2 LIMIT 1) ol
    CROSS JOIN LATERAL (SELECT batch_id FROM allocations
      WHERE orderline_id = ol.id AND sku = $2 LIMIT 1) a)
  SELECT p.version_number, p.out_of_stock_notified, b.id, b.reference, b.purchased_quantity,
         b.allocated_quantity, b.quantity_position, b.eta,
         l.orderid AS line_orderid, l.qty AS line_qty
  FROM products p
  LEFT JOIN batches b ON b.sku = p.sku
  LEFT JOIN l ON l.batch_id = b.id
  WHERE p.sku = $2
  ORDER BY b.id`;

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
    // each order once: the statement returns a row per order id it is given
    const orderids = [...new Set(opts.orderids ?? [])];
    // an unlocked load frees no line and allocates at most one per order
    await this.session.claim(sku, { lines: orderids.length });
    const rows = await this.session.load<ProductRow>(sku, JSON.stringify(orderids));
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
    const rows = await this.session.load<ProductRow>(found.sku, '[]');
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
