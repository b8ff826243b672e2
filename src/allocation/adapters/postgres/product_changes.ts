// What a unit of work changed in a product, as the document apply_product_changes() takes.
// knex has no change tracking, so the product is compared with its snapshot from load time.
import type { Event } from '../../domain/events';
import type { Product } from '../../domain/model';
import type { OriginOf } from '../../service_layer/command_batches';
import { commitPlan, type CommitPlan, type HandlerTable } from '../../service_layer/commit_plan';
import type { Cause, CauseOf, HistoryRow } from '../../service_layer/history';
import type { ReadModelRow } from '../../service_layer/unit_of_work';
import { lineKey, type Snapshot } from './repository';

/** Lines freed and allocated past which a change needs a transaction with a longer timeout. */
export const LARGE_CHANGE_LINES = 1_000;

export interface ProductChanges {
  /** The version loaded (checked by the database), or null for a new product. */
  expected_version: number | null;
  version: number;
  /** Whether the sku's stock-out was notified (Product.outOfStockNotified). */
  out_of_stock_notified: boolean;
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
    /** Carried to the handlers' own commits (a re-allocation's history names it). */
    cause: Cause | null;
  }[];
  /** The read-model rows of the change, the newest version of each line. */
  view_rows: { orderid: string; batchref: string | null; version: number }[];
  /** One row per event, in the order raised (service_layer/history.ts). */
  history: HistoryRow[];
  message_id?: string;
  /** The message id was made up by the service (processed_messages.made_here). */
  message_made_here?: true;
}

/**
 * What a unit of work writes: per product changed, (sku, changes as JSON) for
 * apply_product_changes; the events they commit; the lines they free and allocate.
 */
export function productWrites(
  loaded: { seen: ReadonlySet<Product>; snapshots: ReadonlyMap<Product, Snapshot> },
  context: {
    eventHandlers: HandlerTable;
    correlationId: string | null;
    traceparent: string | null;
    /** The cause each event's history row and outbox rows name (service_layer/history.ts). */
    causeOf: CauseOf;
    /** The inbound message id, recorded with the first product. */
    messageId?: string;
    /** In a unit of several commands, each event's own chain (command_batches.ts). */
    originOf?: OriginOf;
    messageIdMadeHere?: boolean;
  },
): { events: Event[]; writes: [string, string][]; lines: number } {
  const events: Event[] = [];
  const writes: [string, string][] = [];
  let lines = 0;
  for (const product of loaded.seen) {
    const raised = product.events.splice(0);
    const change = productChanges(product, loaded.snapshots.get(product), {
      ...context,
      plan: commitPlan(raised, context.eventHandlers, context.causeOf),
      messageId: writes.length === 0 ? context.messageId : undefined,
    });
    events.push(...raised);
    if (!change) continue;
    writes.push([change.sku, JSON.stringify(change.changes)]);
    lines += change.changes.freed_lines.length + change.changes.allocated_lines.length;
  }
  return { events, writes, lines };
}

/** The product's changes, or undefined when there is nothing to write. */
export function productChanges(
  product: Product,
  before: Snapshot | undefined,
  context: {
    /** What the product's events write with it (commit_plan.ts). */
    plan: CommitPlan;
    correlationId: string | null;
    /** The trace context of the handler that commits: each outbox row's delivery continues it. */
    traceparent: string | null;
    messageId?: string;
    originOf?: OriginOf;
    messageIdMadeHere?: boolean;
  },
): { sku: string; changes: ProductChanges } | undefined {
  const changes: ProductChanges = {
    expected_version: before?.version ?? null,
    version: product.versionNumber,
    out_of_stock_notified: product.outOfStockNotified,
    new_batches: [],
    changed_batches: [],
    freed_lines: [],
    allocated_lines: [],
    outbox: context.plan.outbox.map(({ event, handler, cause }) => {
      const origin = context.originOf?.(event) ?? context;
      return {
        type: event.constructor.name,
        handler,
        payload: event,
        correlation_id: origin.correlationId,
        traceparent: origin.traceparent,
        cause,
      };
    }),
    view_rows: newestPerLine(context.plan.viewRows),
    history: context.plan.history,
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
  // every event has its history row: a refusal that changes nothing else is still written
  if (unchanged && changes.history.length === 0 && context.messageId === undefined)
    return undefined;
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
