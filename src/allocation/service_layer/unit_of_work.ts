// The unit-of-work port and what it holds. Adapters implement it on PostgreSQL
// (adapters/postgres/postgres_unit_of_work.ts) or in memory (tests/unit/fakes.ts); handlers see only these.
import type { Event } from '../domain/events';
import type { Product } from '../domain/model';

export interface ProductRepository {
  /** Products loaded or added in this unit of work: the ones `commit()` writes back. */
  readonly seen: ReadonlySet<Product>;
  add(product: Product): void;
  /**
   * Loads a product with its batches. Lines are loaded only for `orderids`, since that is all
   * allocations need to stay idempotent; loading every line ever allocated would not scale.
   */
  get(sku: string, opts?: { orderids?: string[] }): Promise<Product | undefined>;
  /**
   * Loads the product owning batch `ref`, with the newest lines of that batch that setting its
   * quantity to `qty` would free (and no others): the cost grows with the lines freed.
   */
  getForQuantityChange(ref: string, qty: number): Promise<Product | undefined>;
}

/** A row of `allocations_view`; `batchref` null when the line is no longer allocated. */
export interface ReadModelRow {
  orderid: string;
  sku: string;
  batchref: string | null;
  /** The product version that produced the row: a row never replaces a newer one. */
  version: number;
}

/** The `allocations_view` read model, written only by inline event handlers. */
export interface ReadModel {
  /** Writes the rows with the commit, each only over an older version of itself. */
  apply(rows: ReadModelRow[]): void;
}

/**
 * Inbound message ids already processed, so a redelivered message has one effect. Ids the
 * service made up itself (`madeHere`: a stream entry's, a replay's) are a namespace of their own:
 * a sender's id, whatever its text, never equals one of them.
 */
export interface Inbox {
  /** Records the id on commit; false when it was recorded before. */
  markProcessed(messageId: string, madeHere?: boolean): Promise<boolean>;
}

export interface UnitOfWork {
  readonly products: ProductRepository;
  readonly inbox: Inbox;
  /** Runs `fn`; nothing is written unless `fn` calls `commit()`. */
  run<T>(fn: () => Promise<T>): Promise<T>;
  /**
   * Writes every change, what the inline handlers of the products' events write to the read
   * model, and one outbox row per outbox handler of those events (commit_plan.ts), atomically.
   * Throws ConcurrencyError when another unit of work changed a product first.
   */
  commit(): Promise<void>;
  rollback(): Promise<void>;
  /** The events committed since last asked, oldest first; the bus pulls them after a handler. */
  collectNewEvents(): Event[];
}
