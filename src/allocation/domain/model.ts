import {
  Allocated,
  BatchCreated,
  BatchQuantityChanged,
  Deallocated,
  OutOfStock,
  StillOutOfStock,
  type Event,
} from './events';

/** A customer's request for `qty` units of `sku`: a value, compared by its fields. */
export class OrderLine {
  constructor(
    readonly orderid: string,
    readonly sku: string,
    readonly qty: number,
  ) {}

  equals(other: OrderLine): boolean {
    return this.orderid === other.orderid && this.sku === other.sku && this.qty === other.qty;
  }
}

export class Batch {
  // Insertion order is allocation order: the newest line is the last one, freed first.
  private readonly lines = new Map<string, OrderLine>();
  private allocated = 0;
  /** The source position of the last quantity change applied (see ChangeBatchQuantity). */
  quantityPosition: string | null = null;

  constructor(
    readonly reference: string,
    readonly sku: string,
    public purchasedQuantity: number,
    /** ISO date `YYYY-MM-DD` of the shipment, or null when the stock is in the warehouse. */
    readonly eta: string | null = null,
  ) {}

  /**
   * Rebuilds a stored batch. A repository loads only the lines a command can touch (not every
   * line ever allocated), so `allocatedQuantity` is the stored total and `knownLines` (oldest
   * first) may be a subset of the lines behind it: the newest ones, when lines are to be freed.
   * That keeps each command's cost flat as history grows.
   */
  static restore(
    reference: string,
    sku: string,
    purchasedQuantity: number,
    eta: string | null,
    allocatedQuantity: number,
    knownLines: Iterable<OrderLine>,
    quantityPosition: string | null = null,
  ): Batch {
    const batch = new Batch(reference, sku, purchasedQuantity, eta);
    for (const line of knownLines) batch.lines.set(line.orderid, line);
    batch.allocated = allocatedQuantity;
    batch.quantityPosition = quantityPosition;
    return batch;
  }

  get allocatedQuantity(): number {
    return this.allocated;
  }

  get availableQuantity(): number {
    return this.purchasedQuantity - this.allocated;
  }

  /** The lines this batch knows of, oldest first. */
  get allocations(): readonly OrderLine[] {
    return [...this.lines.values()];
  }

  canAllocate(line: OrderLine): boolean {
    return this.sku === line.sku && this.availableQuantity >= line.qty;
  }

  isAllocatedTo(line: OrderLine): boolean {
    return this.lines.get(line.orderid)?.sku === line.sku;
  }

  allocate(line: OrderLine): void {
    if (this.isAllocatedTo(line) || !this.canAllocate(line)) return;
    this.lines.set(line.orderid, line);
    this.allocated += line.qty;
  }

  deallocate(line: OrderLine): void {
    const held = this.lines.get(line.orderid);
    if (!held || held.sku !== line.sku) return;
    this.lines.delete(line.orderid);
    this.allocated -= held.qty;
  }

  /**
   * Frees the newest lines until the batch is no longer over-allocated, so the oldest orders
   * keep their stock. One pass from the newest end: freeing N lines costs O(N), not O(N^2).
   */
  freeExcess(): OrderLine[] {
    if (this.availableQuantity >= 0) return [];
    const newestFirst = [...this.lines.values()].reverse();
    const freed: OrderLine[] = [];
    for (const line of newestFirst) {
      if (this.availableQuantity >= 0) break;
      this.deallocate(line);
      freed.push(line);
    }
    // A repository that loads a batch for a quantity change must load enough of its lines.
    if (this.availableQuantity < 0) {
      throw new Error(`Batch ${this.reference} was loaded without the lines it must free`);
    }
    return freed;
  }
}

/**
 * Warehouse stock (no eta) first, then shipments by earliest eta; ref breaks ties, compared by
 * UTF-16 code unit (JavaScript's `<`). The one order of batches: views.ts sorts with it too.
 */
export function preferenceOrder(
  a: Pick<Batch, 'reference' | 'eta'>,
  b: Pick<Batch, 'reference' | 'eta'>,
): number {
  if (a.eta !== b.eta) {
    if (a.eta === null) return -1;
    if (b.eta === null) return 1;
    return a.eta < b.eta ? -1 : 1;
  }
  return a.reference < b.reference ? -1 : a.reference > b.reference ? 1 : 0;
}

/** The aggregate: every change to any batch of a sku goes through its Product. */
export class Product {
  events: Event[] = [];

  constructor(
    readonly sku: string,
    readonly batches: Batch[],
    public versionNumber = 0,
    /** Set with the OutOfStock it raises, cleared by new stock; it bumps the version like any
     * change, so two allocations that find no stock at once cannot both notify. */
    public outOfStockNotified = false,
  ) {}

  addBatch(batch: Batch): void {
    this.batches.push(batch);
    this.versionNumber += 1;
    this.outOfStockNotified = false;
    this.events.push(
      new BatchCreated(
        this.sku,
        batch.reference,
        batch.purchasedQuantity,
        batch.eta,
        this.versionNumber,
      ),
    );
  }

  /** Returns the ref of the batch holding the line, or undefined when out of stock. */
  allocate(line: OrderLine): string | undefined {
    const holding = this.batches.find((b) => b.isAllocatedTo(line));
    if (holding) return holding.reference; // idempotent: no second allocation, no second event

    const batch = [...this.batches].sort(preferenceOrder).find((b) => b.canAllocate(line));
    if (!batch) {
      this.refuse(line);
      return undefined;
    }
    batch.allocate(line);
    this.versionNumber += 1;
    this.events.push(
      new Allocated(line.orderid, line.sku, line.qty, batch.reference, this.versionNumber),
    );
    return batch.reference;
  }

  /**
   * Sets the purchased quantity, freeing lines until the batch is no longer over-allocated.
   * A change with a position at or before the last one applied was superseded: it is ignored
   * (false), unless forced; the batch keeps the newest position it has seen.
   */
  changeBatchQuantity(ref: string, qty: number, position?: string, force = false): boolean {
    const batch = this.batches.find((b) => b.reference === ref);
    if (!batch) throw new Error(`Product ${this.sku} has no batch ${ref}`);
    if (position !== undefined) {
      const newer = batch.quantityPosition === null || position > batch.quantityPosition;
      if (!newer && !force) return false;
      if (newer) batch.quantityPosition = position;
    }
    const from = batch.purchasedQuantity;
    batch.purchasedQuantity = qty;
    this.versionNumber += 1;
    if (qty > from) this.outOfStockNotified = false; // stock again: the next stock-out notifies
    this.events.push(new BatchQuantityChanged(this.sku, ref, from, qty, this.versionNumber));
    for (const line of batch.freeExcess()) {
      this.events.push(
        new Deallocated(line.orderid, line.sku, line.qty, batch.reference, this.versionNumber),
      );
    }
    return true;
  }

  /** No batch can take the line: the first refusal since the sku had stock notifies. */
  private refuse(line: OrderLine): void {
    if (this.outOfStockNotified) {
      this.events.push(new StillOutOfStock(line.sku, line.orderid, line.qty, this.versionNumber));
      return;
    }
    this.outOfStockNotified = true;
    this.versionNumber += 1;
    this.events.push(new OutOfStock(line.sku, line.orderid, line.qty, this.versionNumber));
  }
}
