// Events are facts in the past tense: any number of handlers, and one failing stops no other.

// `version` is the product's version after the change that raised the event. Versions only
// grow, so whoever applies events (a read model, say) can tell an old one from a newer one
// whatever order they arrive in.

export class Allocated {
  constructor(
    readonly orderid: string,
    readonly sku: string,
    readonly qty: number,
    readonly batchref: string,
    readonly version: number,
  ) {}
}

export class Deallocated {
  constructor(
    readonly orderid: string,
    readonly sku: string,
    readonly qty: number,
    /** The batch that freed the line. */
    readonly batchref: string,
    readonly version: number,
  ) {}
}

/**
 * The sku ran out: a line found no batch that could take it, and no notification has gone out
 * since the sku last had stock (SPEC section 5: one notification per stock-out).
 */
export class OutOfStock {
  constructor(
    readonly sku: string,
    /** The line that found no stock (absent on rows written before history, 20261207140000). */
    readonly orderid: string | null = null,
    readonly qty = 0,
    readonly version = 0,
  ) {}
}

/** A line found no stock again; the sku's stock-out was already notified. */
export class StillOutOfStock {
  constructor(
    readonly sku: string,
    readonly orderid: string,
    readonly qty: number,
    readonly version: number,
  ) {}
}

export class BatchCreated {
  constructor(
    readonly sku: string,
    readonly batchref: string,
    readonly qty: number,
    readonly eta: string | null,
    readonly version: number,
  ) {}
}

export class BatchQuantityChanged {
  constructor(
    readonly sku: string,
    readonly batchref: string,
    readonly from: number,
    readonly to: number,
    readonly version: number,
  ) {}
}

export type Event =
  Allocated | Deallocated | OutOfStock | StillOutOfStock | BatchCreated | BatchQuantityChanged;

/** Rebuilds an event stored by name (the outbox keeps events as `{type, payload}`). */
export function eventFromStorage(type: string, payload: Record<string, unknown>): Event {
  switch (type) {
    case 'Allocated':
      return new Allocated(
        String(payload.orderid),
        String(payload.sku),
        Number(payload.qty),
        String(payload.batchref),
        Number(payload.version ?? 0),
      );
    case 'Deallocated':
      return new Deallocated(
        String(payload.orderid),
        String(payload.sku),
        Number(payload.qty),
        String(payload.batchref),
        Number(payload.version ?? 0),
      );
    case 'OutOfStock':
      return new OutOfStock(
        String(payload.sku),
        typeof payload.orderid === 'string' ? payload.orderid : null,
        Number(payload.qty ?? 0),
        Number(payload.version ?? 0),
      );
    default:
      throw new Error(`Unknown event type ${type}`);
  }
}
