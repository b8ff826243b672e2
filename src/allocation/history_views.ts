// The read side of history (SPEC section 3, "History"): plain SQL on the `history` table that
// apply_product_changes writes, no domain needed. Callers pass the read database (a replica
// when DATABASE_READ_URL is set), as for views.ts.
import type pg from 'pg';
import { preparedQuery } from './adapters/postgres/prepared';
import type { Cause, HistoryType } from './service_layer/history';

export interface HistoryEntry {
  at: string;
  type: HistoryType;
  sku: string;
  qty: number | null;
  batchref: string | null;
  version: number;
  cause: Cause | null;
}

/** A product's entries also name the order (of a line's entries) and, for a change, from/to. */
export interface ProductHistoryEntry extends HistoryEntry {
  orderid: string | null;
  from?: number;
  to?: number;
}

interface Row {
  id: string;
  at: Date;
  type: HistoryType;
  sku: string;
  orderid: string | null;
  qty: number | null;
  batchref: string | null;
  qty_from: number | null;
  qty_to: number | null;
  version: number;
  cause_kind: Cause['kind'] | null;
  cause_id: string | null;
}

/** More than any order has; a bound on what one answer can cost. */
export const MAX_ORDER_ENTRIES = 1_000;

// Oldest first. On Citus this fans out to every shard (history is by sku): see README, History.
const ORDER_HISTORY = `
  SELECT at, type, sku, qty, batchref, version, cause_kind, cause_id FROM history
  WHERE orderid = $1 ORDER BY at, id LIMIT ${MAX_ORDER_ENTRIES}`;

/** An order's history, oldest first (empty when it has none). */
export async function orderHistory(orderid: string, db: pg.Pool): Promise<HistoryEntry[]> {
  const rows = await preparedQuery(db)<Row>(ORDER_HISTORY, [orderid]);
  return rows.map(entry);
}

// The product row too, so an unknown sku and a product with no history (yet, or any more) can
// be told apart in one statement; newest first from `before` (an id, exclusive), one more row
// than asked for to know whether there is a next page. One shard on Citus: both by sku.
const PRODUCT_HISTORY = `
  SELECT h.id, h.at, h.type, p.sku, h.orderid, h.qty, h.batchref, h.qty_from, h.qty_to, h.version,
         h.cause_kind, h.cause_id
  FROM products p
  LEFT JOIN LATERAL (
    SELECT * FROM history h WHERE h.sku = p.sku AND h.id < $1 ORDER BY h.id DESC LIMIT $2
  ) h ON true
  WHERE p.sku = $3
  ORDER BY h.id DESC`;

export interface ProductHistoryPage {
  entries: ProductHistoryEntry[];
  /** Where the next page starts (its `before`), when there is one. */
  next?: string;
}

/** A page of a product's history, newest first; undefined for an unknown sku. */
export async function productHistory(
  sku: string,
  page: { limit: number; before?: string },
  db: pg.Pool,
): Promise<ProductHistoryPage | undefined> {
  const before = page.before ?? String(Number.MAX_SAFE_INTEGER);
  const rows = await preparedQuery(db)<Row | (Partial<Row> & { id: null })>(PRODUCT_HISTORY, [
    before,
    page.limit + 1,
    sku,
  ]);
  if (rows.length === 0) return undefined;
  const found = rows.filter((row): row is Row => row.id !== null);
  const shown = found.slice(0, page.limit);
  return {
    entries: shown.map((row) => ({
      ...entry(row),
      orderid: row.orderid,
      ...(row.type === 'quantity_changed' ? { from: row.qty_from ?? 0, to: row.qty_to ?? 0 } : {}),
    })),
    next: found.length > page.limit ? String(shown[shown.length - 1].id) : undefined,
  };
}

function entry(row: Row): HistoryEntry {
  return {
    at: row.at.toISOString(),
    type: row.type,
    sku: row.sku,
    qty: row.qty,
    batchref: row.batchref,
    version: row.version,
    cause: row.cause_kind === null ? null : { kind: row.cause_kind, id: row.cause_id ?? '' },
  };
}
