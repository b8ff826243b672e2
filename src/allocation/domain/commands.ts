// Commands are instructions: each has exactly one handler, and its failure reaches the sender.
// Classes, not interfaces, so the bus can dispatch on `message.constructor` at run time.

export class CreateBatch {
  constructor(
    readonly ref: string,
    readonly sku: string,
    readonly qty: number,
    /** ISO calendar date `YYYY-MM-DD`, or null for stock already in the warehouse. */
    readonly eta: string | null = null,
  ) {}
}

export class Allocate {
  constructor(
    readonly orderid: string,
    readonly sku: string,
    readonly qty: number,
  ) {}
}

export class ChangeBatchQuantity {
  constructor(
    readonly ref: string,
    readonly qty: number,
    /** The inbound message's id, when it has one: a redelivery then changes nothing. */
    readonly messageId?: string,
    /**
     * Where the change stands in its source's order (a stream entry id, made sortable), when
     * competing consumers may apply changes out of order: an older one is then ignored.
     */
    readonly position?: string,
  ) {}
}

export type Command = CreateBatch | Allocate | ChangeBatchQuantity;
