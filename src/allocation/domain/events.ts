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

export class OutOfStock {
  constructor(readonly sku: string) {}
}

export type Event = Allocated | Deallocated | OutOfStock;

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
      return new OutOfStock(String(payload.sku));
    default:
      throw new Error(`Unknown event type ${type}`);
  }
}
