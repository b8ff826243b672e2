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
    readonly delivery: ChangeDelivery = {},
  ) {}

  /** Where the change stands in its source's order (see ChangeDelivery). */
  get position(): string | undefined {
    return this.delivery.position;
  }
}

/** How an inbound quantity change came: what orders it against other changes of its batch. */
export interface ChangeDelivery {
  /**
   * Where the change stands in its source's order, sortable as text: a stream entry id, or when
   * a pub/sub message arrived. A change at or before the last one applied was superseded.
   */
  position?: string;
  /**
   * Applied even when superseded (its position recorded if it is the newest): a forced replay,
   * and a pub/sub message's first delivery, whose arrival order is the order.
   */
  force?: boolean;
  /** `messageId` was made up by the service (a stream entry's, a replay's), not sent. */
  idMadeHere?: boolean;
}

export type Command = CreateBatch | Allocate | ChangeBatchQuantity;
