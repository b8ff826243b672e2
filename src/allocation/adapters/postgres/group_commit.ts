// Group commit: units of work that each commit one product on the pool, in the same turn of the
// event loop, commit in one statement, one transaction, one call: `apply_products_changes`
// (migrations/functions/write_side.ts), which runs each of its statements once for the whole
// group and locks the products' rows in sku order, so two processes' groups cannot deadlock.
// Most of a commit's cost is per transaction (the round trip and PostgreSQL's commit), not per
// product; of what is left, the set-based call saves 12-24 % of PostgreSQL's CPU per group of 3
// products and 34 % per group of 8, against one apply_product_changes call per product
// (write_side.ts has the numbers).
// Measured (make bench spread c16, two alternating runs, 2026-11-27): write transactions per
// allocation 1.03 -> 0.33; per allocation, service CPU 0.639-0.679 -> 0.585-0.606 ms and
// PostgreSQL CPU 0.633-0.692 -> 0.522-0.538 ms; 1,091-1,187 -> 1,266-1,316 allocations/s.
//
// What one product does must not hold back the others (SPEC section 10). If the statement
// fails, nothing of it was written, and each product is committed again on its own and
// answered as soon as its own outcome is known: a version conflict or a duplicate ref is one
// product's, never its neighbours'. A product whose row another transaction holds (a long
// quantity change, a stuck process) would hold the whole group for the connection's lock
// timeout: the group waits for a row lock at most GROUP_LOCK_WAIT_MS, then that product waits
// alone, with the connection's own timeout, while the others commit. (On Citus the rows are
// locked on the workers, which this setting does not reach: there a group still waits for a
// held row up to the statement timeout, then its other units are answered.)
import type pg from 'pg';
import { perTurn } from './per_turn';
import { preparedQuery } from './prepared';

const APPLY_ALONE = 'SELECT apply_product_changes($1, $2::jsonb)';
// The bound is set first, for this statement's transaction only: the CTE is read before the
// call is evaluated.
const GROUP_STATEMENT = `WITH bound AS MATERIALIZED (SELECT set_config('lock_timeout', $1, true))
  SELECT apply_products_changes($2::jsonb) FROM bound`;
/** Products per statement: a bound on one transaction's work and locks. */
const MAX_GROUP = 16;
/** Groups of two processes wait on each other for a few ms; a held row, for seconds. */
const GROUP_LOCK_WAIT_MS = 100;

/** `commit(sku, changesJson)`: resolves once that product's changes are committed. */
export type GroupCommit = (sku: string, changesJson: string) => Promise<void>;

interface Unit {
  sku: string;
  changesJson: string;
  resolve: () => void;
  reject: (error: unknown) => void;
}

export function groupCommit(pool: pg.Pool): GroupCommit {
  const query = preparedQuery(pool);
  // The connection's own lock timeout when it is shorter (0 is none).
  const configured = Number(pool.options.lock_timeout ?? 0);
  const lockWait = `${configured > 0 ? Math.min(configured, GROUP_LOCK_WAIT_MS) : GROUP_LOCK_WAIT_MS}ms`;
  const alone = (unit: Unit) =>
    query(APPLY_ALONE, [unit.sku, unit.changesJson]).then(() => unit.resolve(), unit.reject);

  const commit = async (group: Unit[]): Promise<void> => {
    if (group.length === 1) return alone(group[0]);
    try {
      await query(GROUP_STATEMENT, [lockWait, groupJson(group)]);
    } catch {
      await Promise.all(group.map(alone));
      return;
    }
    for (const unit of group) unit.resolve();
  };

  // after every unit that reaches its commit in this turn of the event loop
  const ask = perTurn<Unit>(MAX_GROUP, (group) => void commit(group));
  return (sku, changesJson) =>
    new Promise<void>((resolve, reject) => ask({ sku, changesJson, resolve, reject }));
}

/** The group as apply_products_changes takes it; each unit's changes are JSON already. */
function groupJson(group: Unit[]): string {
  const products = group.map((u) => `{"sku":${JSON.stringify(u.sku)},"changes":${u.changesJson}}`);
  return `[${products.join(',')}]`;
}
