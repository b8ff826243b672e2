// The ports the service layer needs. Adapters implement them with knex (adapters/) or in memory
// (tests/unit/fakes.ts); handlers see only these types.
import type { Product } from '../domain/model';
import type { Event } from '../domain/events';

export interface ProductRepository {
  /** Products loaded or added in this unit of work: the ones `commit()` writes back. */
  readonly seen: ReadonlySet<Product>;
  add(product: Product): void;
  /**
   * Loads a product with its batches. Lines are loaded only for `orderid`, since that is all an
   * allocation needs to stay idempotent; loading every line ever allocated would not scale.
   */
  get(sku: string, opts?: { orderid?: string }): Promise<Product | undefined>;
  /** Loads the product owning batch `ref`, with every line of that batch (it may free some). */
  getByBatchref(ref: string): Promise<Product | undefined>;
}

/** The `allocations_view` read model, written only by event handlers. */
export interface ReadModel {
  addAllocation(orderid: string, sku: string, batchref: string): Promise<void>;
  /** Removes the row only while it still names `batchref`, so a repeat cannot undo a newer row. */
  removeAllocation(orderid: string, sku: string, batchref: string): Promise<void>;
}

/** Inbound message ids already processed, so a redelivered message has one effect. */
export interface Inbox {
  /** Records the id; false when it was recorded before (by this or an earlier transaction). */
  markProcessed(messageId: string): Promise<boolean>;
}

export interface UnitOfWork {
  readonly products: ProductRepository;
  readonly readModel: ReadModel;
  readonly inbox: Inbox;
  /** Runs `fn` in one transaction, rolled back unless `fn` called `commit()`. */
  run<T>(fn: () => Promise<T>): Promise<T>;
  commit(): Promise<void>;
  rollback(): Promise<void>;
  /** Drains the events of the products the last committed run saw. */
  collectNewEvents(): Event[];
}
