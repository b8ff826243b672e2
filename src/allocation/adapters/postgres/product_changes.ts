// What a unit of work changed in a product, as the document apply_product_changes() takes.
// knex has no change tracking, so the product is compared with its snapshot from load time.
import type { Event } from '../../domain/events';
import type { Product } from '../../domain/model';
import type { ReadModelRow } from '../../service_layer/unit_of_work';
import type { Snapshot } from './repository';

export interface ProductChanges {
  /** The version loaded (checked by the database), or null for a new product. */
  expected_version: number | null;
  version: number;
  new_batches: { ref: string; purchased: number; allocated: number; eta: string | null }[];
  changed_batches: { ref: string; purchased: number; allocated: number; position: string | null }[];
  freed_lines: { ref: string; orderid: string }[];
  allocated_lines: { ref: string; orderid: string; qty: number }[];
  outbox: {
    type: string;
    handler: string;
    payload: Event;
    correlation_id: string | null;
    traceparent: string | null;
  }[];
  /** The read-model rows of the change, the newest version of each line. */
  view_rows: { orderid: string; batchref: string | null; version: number }[];
  message_id?: string;
  /** The message id was made up by the service (processed_messages.made_here). */
  message_made_here?: true;
}

/** The product's changes, or undefined when there is nothing to write. */
export function productChanges(
  product: Product,
  before: Snapshot | undefined,
  context: {
    handlersOf: (event: Event) => readonly string[];
    /** What the events' inline handlers wrote (all of this product). */
    viewRows: readonly ReadModelRow[];
    correlationId: string | null;
    /** The trace context of the handler that commits: each outbox row's delivery continues it. */
    traceparent: string | null;
    messageId?: string;
    messageIdMadeHere?: boolean;
  },
): { sku: string; changes: ProductChanges } | undefined {
  const events = product.events.splice(0);
  const changes: ProductChanges = {
    expected_version: before?.version ?? null,
    version: product.versionNumber,
    new_batches: [],
    changed_batches: [],
    freed_lines: [],
    allocated_lines: [],
    outbox: events.flatMap((event) =>
      context.handlersOf(event).map((handler) => ({
        type: event.constructor.name,
        handler,
        payload: event,
        correlation_id: context.correlationId,
        traceparent: context.traceparent,
      })),
    ),
    view_rows: newestPerLine(context.viewRows),
    message_id: context.messageId,
    ...(context.messageId !== undefined && context.messageIdMadeHere
      ? { message_made_here: true as const }
      : {}),
  };
  const linesNow = new Set<string>();
  for (const batch of product.batches) {
    const was = before?.batches.get(batch.reference);
    const now = {
      ref: batch.reference,
      purchased: batch.purchasedQuantity,
      allocated: batch.allocatedQuantity,
    };
    if (!was) changes.new_batches.push({ ...now, eta: batch.eta });
    else if (
      was.purchased !== now.purchased ||
      was.allocated !== now.allocated ||
      was.position !== batch.quantityPosition
    ) {
      changes.changed_batches.push({ ...now, position: batch.quantityPosition });
    }
    for (const line of batch.allocations) {
      const key = lineKey(batch.reference, line.orderid);
      linesNow.add(key);
      if (!before?.lines.has(key)) {
        changes.allocated_lines.push({
          ref: batch.reference,
          orderid: line.orderid,
          qty: line.qty,
        });
      }
    }
  }
  for (const [key, line] of before?.lines ?? []) {
    if (!linesNow.has(key)) changes.freed_lines.push(line);
  }
  const unchanged = before !== undefined && before.version === product.versionNumber;
  if (unchanged && changes.outbox.length === 0 && context.messageId === undefined) return undefined;
  return { sku: product.sku, changes };
}

function newestPerLine(rows: readonly ReadModelRow[]): ProductChanges['view_rows'] {
  const newest = new Map<string, ReadModelRow>();
  for (const row of rows) {
    if ((newest.get(row.orderid)?.version ?? -1) < row.version) newest.set(row.orderid, row);
  }
  return [...newest.values()].map(({ orderid, batchref, version }) => ({
    orderid,
    batchref,
    version,
  }));
}

export function lineKey(ref: string, orderid: string): string {
  return JSON.stringify([ref, orderid]);
}
