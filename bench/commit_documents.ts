// The documents apply_product_changes takes (adapters/postgres/product_changes.ts), as an
// allocation's commit writes them, for the probes that time the database's side of a commit
// apart from HTTP (history_cost.ts, group_commit_cost.ts).
import { randomUUID } from 'node:crypto';

/** A product of a probe: one batch with stock enough for every allocation it makes. */
export interface ProbeProduct {
  sku: string;
  ref: string;
  version: number;
  allocated: number;
}

const PURCHASED = 100_000_000;

const EMPTY = {
  out_of_stock_notified: false,
  new_batches: [],
  changed_batches: [],
  freed_lines: [],
  allocated_lines: [],
  outbox: [],
  view_rows: [],
  history: [],
};

export function probeProducts(count: number): ProbeProduct[] {
  return Array.from({ length: count }, (_, i) => ({
    sku: `cost-${i}`,
    ref: `cost-batch-${i}`,
    version: 1,
    allocated: 0,
  }));
}

/** The product created with its batch (version 1). */
export function newProductChanges(p: ProbeProduct): object {
  const batch = { ref: p.ref, purchased: PURCHASED, allocated: 0, eta: null };
  return { ...EMPTY, expected_version: null, version: 1, new_batches: [batch] };
}

/**
 * `lines` one-unit lines allocated on `p` in one commit (its version and stock advance): each
 * with its read-model row, its line_allocated outbox row and, `withHistory`, its history row.
 * Order ids are random, as real ones are: each lands on its own index page.
 */
export function allocationChanges(p: ProbeProduct, lines: number, withHistory: boolean): object {
  const version = p.version + 1;
  const cause = { kind: 'http', id: randomUUID() };
  const orderids = Array.from({ length: lines }, () => `o-${randomUUID()}`);
  p.version = version;
  p.allocated += lines;
  const line = (orderid: string) => ({ orderid, qty: 1, batchref: p.ref, version });
  return {
    ...EMPTY,
    expected_version: version - 1,
    version,
    changed_batches: [{ ref: p.ref, purchased: PURCHASED, allocated: p.allocated, position: null }],
    allocated_lines: orderids.map((orderid) => ({ ref: p.ref, orderid, qty: 1 })),
    view_rows: orderids.map((orderid) => ({ orderid, batchref: p.ref, version })),
    outbox: orderids.map((orderid) => ({
      type: 'Allocated',
      handler: 'line_allocated',
      payload: { ...line(orderid), sku: p.sku },
      correlation_id: cause.id,
      traceparent: null,
      cause,
    })),
    history: withHistory
      ? orderids.map((orderid) => ({
          ...line(orderid),
          type: 'allocated',
          from: null,
          to: null,
          cause_kind: cause.kind,
          cause_id: cause.id,
        }))
      : [],
  };
}
