// Group load: units of work that load a product on the pool in the same turn of the event loop
// load together, in one statement, as group commit (group_commit.ts) commits them together.
// Each unit then gets its rows in the same turn, so the units reach their commits together too,
// and group commit gathers more of them per transaction.
// Measured, make bench spread c16 in alternating pairs (2026-12-07), per allocation:
// - this statement, 3 pairs: 2,730 / 2,162 / 2,480 -> 3,206 / 3,029 / 2,922 allocations/s;
//   PostgreSQL CPU 0.318 / 0.413 / 0.352 -> 0.249 / 0.259 / 0.263 ms; service CPU 0.221 /
//   0.273 / 0.244 -> 0.183 / 0.198 / 0.207 ms; p99 within the noise;
// - its first version (the same statement), 5 pairs: write transactions 0.363-0.390 ->
//   0.243-0.259, PostgreSQL CPU 0.314-0.530 -> 0.226-0.382 ms.
// Spread c1 and hot c8/c32 (one sku, so groups of one): no change beyond the noise.
//
// One product's trouble is never its neighbours': if the group's statement fails, each unit
// loads alone and gets its own outcome. A database that cannot run the group statement at all
// (Citus refuses a join that does not name the distribution column: feature_not_supported) is
// sent one statement per product from then on.
import { LOAD_PRODUCT } from './repository';
import { perTurn } from './per_turn';
import type { Query } from './prepared';

// LOAD_PRODUCT (repository.ts says why each lookup is a LATERAL subquery: no plan but index
// lookups, whatever the statistics) for every product of the group, each row naming its sku.
// The batches are a LATERAL subquery too, ordered, so the planner cannot turn it into a join of
// whole tables; tests/integration/repository.test.ts checks the generic plan on empty tables.
export const LOAD_PRODUCTS = `
  WITH req AS MATERIALIZED (
    SELECT r.sku, r.orderids FROM jsonb_to_recordset($1::jsonb) AS r (sku text, orderids jsonb)),
  l AS MATERIALIZED (
    SELECT req.sku, a.batch_id, ol.orderid, ol.qty FROM req
    CROSS JOIN LATERAL jsonb_array_elements_text(req.orderids) AS o (orderid)
    CROSS JOIN LATERAL (SELECT id, orderid, qty FROM order_lines
      WHERE orderid = o.orderid AND sku = req.sku LIMIT 1) ol
    CROSS JOIN LATERAL (SELECT batch_id FROM allocations
      WHERE orderline_id = ol.id AND sku = req.sku LIMIT 1) a)
  SELECT req.sku AS load_sku, p.version_number, p.out_of_stock_notified, b.id, b.reference,
         b.purchased_quantity, b.allocated_quantity, b.quantity_position, b.eta,
         l.orderid AS line_orderid, l.qty AS line_qty
  FROM req
  CROSS JOIN LATERAL (SELECT version_number, out_of_stock_notified FROM products
    WHERE sku = req.sku LIMIT 1) p
  LEFT JOIN LATERAL (SELECT id, reference, purchased_quantity, allocated_quantity,
    quantity_position, eta FROM batches WHERE sku = req.sku ORDER BY id) b ON true
  LEFT JOIN l ON l.sku = req.sku AND l.batch_id = b.id
  ORDER BY req.sku, b.id`;
/** Products per statement, as a group commit's. */
const MAX_GROUP = 16;
const FEATURE_NOT_SUPPORTED = '0A000';

/** `load(sku, orderidsJson)`: LOAD_PRODUCT's rows for that sku (none for an unknown one). */
export type GroupLoad = <R>(sku: string, orderidsJson: string) => Promise<R[]>;

interface Unit {
  sku: string;
  orderidsJson: string;
  resolve: (rows: unknown[]) => void;
  reject: (error: unknown) => void;
}

/** Loads through `query` (a pool's prepared statements), the units of one turn together. */
export function groupLoad(query: Query): GroupLoad {
  let grouping = true;
  const alone = (unit: Unit) =>
    query(LOAD_PRODUCT, [unit.orderidsJson, unit.sku]).then(unit.resolve, unit.reject);

  const load = async (units: Unit[]): Promise<void> => {
    // SkuLocks queue a process's units of one sku, so a sku should not come twice in a turn;
    // if it did, each unit would get both units' lines: a repeat loads alone
    const [group, repeats]: Unit[][] = [[], []];
    for (const unit of units) (group.some((u) => u.sku === unit.sku) ? repeats : group).push(unit);
    if (group.length === 1 || !grouping) {
      await Promise.all(units.map(alone));
      return;
    }
    void Promise.all(repeats.map(alone));
    let rows: { load_sku: string }[];
    try {
      rows = await query(LOAD_PRODUCTS, [groupJson(group)]);
    } catch (error) {
      if ((error as { code?: unknown }).code === FEATURE_NOT_SUPPORTED) grouping = false;
      await Promise.all(group.map(alone));
      return;
    }
    const bySku = new Map<string, unknown[]>();
    for (const row of rows) {
      const own = bySku.get(row.load_sku);
      if (own) own.push(row);
      else bySku.set(row.load_sku, [row]);
    }
    for (const unit of group) unit.resolve(bySku.get(unit.sku) ?? []);
  };

  // after every unit that reaches its load in this turn of the event loop
  const ask = perTurn<Unit>(MAX_GROUP, (units) => void load(units));
  return <R>(sku: string, orderidsJson: string) =>
    new Promise<R[]>((resolve, reject) =>
      ask({ sku, orderidsJson, resolve: resolve as Unit['resolve'], reject }),
    );
}

/** The group as LOAD_PRODUCTS takes it; each unit's order ids are a JSON array already. */
function groupJson(group: Unit[]): string {
  const units = group.map((u) => `{"sku":${JSON.stringify(u.sku)},"orderids":${u.orderidsJson}}`);
  return `[${units.join(',')}]`;
}
