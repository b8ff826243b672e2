/**
 * An in-process queue per sku: commands on one product run one after another in this process,
 * so they never race each other for its version (a hot sku would otherwise turn into failed
 * commits and retries). Other processes are kept honest by the version check.
 */
export class SkuLocks {
  private readonly tails = new Map<string, Promise<void>>();

  /** Waits for the sku's earlier holders; returns the function that releases it. */
  async acquire(sku: string): Promise<() => void> {
    const previous = this.tails.get(sku) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    this.tails.set(sku, tail);
    await previous;
    return () => {
      release();
      // the last holder cleans up, so the map holds only skus in use
      if (this.tails.get(sku) === tail) this.tails.delete(sku);
    };
  }
}

/**
 * Skus that recently lost a version race, which means another process writes them too. Loads
 * of a hot sku lock its product row in a transaction, so the processes queue on the row
 * instead of failing and retrying; cold skus stay lock-free.
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
