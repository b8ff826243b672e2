// Events are facts in the past tense: any number of handlers, and one failing stops no other.

export class Allocated {
  constructor(
    readonly orderid: string,
    readonly sku: string,
    readonly qty: number,
    readonly batchref: string,
  ) {}
}

export class Deallocated {
  constructor(
    readonly orderid: string,
    readonly sku: string,
    readonly qty: number,
    /** The batch that freed the line: a read model removes the row only if it still says so. */
    readonly batchref: string,
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
      );
    case 'Deallocated':
      return new Deallocated(
        String(payload.orderid),
        String(payload.sku),
        Number(payload.qty),
        String(payload.batchref),
      );
    case 'OutOfStock':
      return new OutOfStock(String(payload.sku));
    default:
      throw new Error(`Unknown event type ${type}`);
  }
}
