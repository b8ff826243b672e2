// Tiny working implementations of the service layer's ports, as in the book: no I/O, no mocks.
import type { Event } from '../../src/allocation/domain/events';
import type { Product } from '../../src/allocation/domain/model';
import type { Logger, Notifications, Publish } from '../../src/allocation/service_layer/ports';
import type {
  DeliveryReport,
  MessageMeta,
  Outbox,
  PendingMessage,
} from '../../src/allocation/service_layer/ports';
import { DuplicateBatch } from '../../src/allocation/service_layer/errors';
import { commitPlan, outboxHandlerNames } from '../../src/allocation/service_layer/commit_plan';
import { EVENT_HANDLERS } from '../../src/allocation/service_layer/handlers';
import {
  causeOfChain,
  type Cause,
  type CauseOf,
  type HistoryRow,
} from '../../src/allocation/service_layer/history';
import type { Chain } from '../../src/allocation/service_layer/messagebus';
import type {
  Inbox,
  ProductRepository,
  ReadModel,
  ReadModelRow,
  UnitOfWork,
} from '../../src/allocation/service_layer/unit_of_work';

export class FakeRepository implements ProductRepository {
  readonly seen = new Set<Product>();

  constructor(private readonly products = new Set<Product>()) {}

  add(product: Product): void {
    this.products.add(product);
    this.seen.add(product);
  }

  async get(sku: string): Promise<Product | undefined> {
    return Promise.resolve(this.track([...this.products].find((p) => p.sku === sku)));
  }

  async getForQuantityChange(ref: string): Promise<Product | undefined> {
    return Promise.resolve(
      this.track([...this.products].find((p) => p.batches.some((b) => b.reference === ref))),
    );
  }

  all(): Product[] {
    return [...this.products];
  }

  private track(product: Product | undefined): Product | undefined {
    if (product) this.seen.add(product);
    return product;
  }
}

export class FakeReadModel implements ReadModel {
  readonly rows = new Map<string, string | null>(); // `${orderid}/${sku}` -> batchref
  private readonly versions = new Map<string, number>();

  apply(rows: ReadModelRow[]): void {
    for (const row of rows) {
      const key = `${row.orderid}/${row.sku}`;
      if ((this.versions.get(key) ?? -1) >= row.version) continue;
      this.versions.set(key, row.version);
      this.rows.set(key, row.batchref);
    }
  }
}

export class FakeInbox implements Inbox {
  readonly ids = new Set<string>();

  async markProcessed(messageId: string, madeHere = false): Promise<boolean> {
    const key = JSON.stringify([messageId, madeHere]);
    const fresh = !this.ids.has(key);
    this.ids.add(key);
    return Promise.resolve(fresh);
  }
}

export class FakeOutbox implements Outbox {
  readonly messages: (PendingMessage & { delivered: boolean })[] = [];
  /** Messages the relay gave up on, with the error, as the dead letters would hold them. */
  readonly dead: { message: PendingMessage; error: string }[] = [];
  private nextId = 1;

  /** One row per handler of the event, as the real unit of work writes them. */
  append(
    key: string,
    event: Event,
    handlers = outboxHandlerNames(EVENT_HANDLERS, event),
    cause?: Cause | null,
  ): void {
    for (const handler of handlers) {
      const id = String(this.nextId++);
      this.messages.push({
        id,
        key,
        event,
        handler,
        attempts: 0,
        correlationId: null,
        occurredAt: new Date(),
        traceparent: null,
        cause: cause ?? null,
        delivered: false,
      });
    }
  }

  pending(): PendingMessage[] {
    return this.messages.filter((m) => !m.delivered);
  }

  async deliverPending(
    limit: number,
    deliver: (messages: PendingMessage[]) => Promise<DeliveryReport>,
    skip: readonly string[] = [],
  ): Promise<number> {
    const pending = this.pending()
      .filter((m) => !skip.includes(m.handler))
      .slice(0, limit);
    if (pending.length === 0) return 0;
    const report = await deliver(pending);
    for (const m of this.messages) {
      if (report.delivered.includes(m.id)) m.delivered = true;
      if (report.failed.some((f) => f.id === m.id)) m.attempts += 1;
    }
    for (const { id, error } of report.dead) {
      const at = this.messages.findIndex((m) => m.id === id);
      this.dead.push({ message: this.messages[at], error });
      this.messages.splice(at, 1);
    }
    return pending.length;
  }

  async backlog(): Promise<{ count: number; oldestAgeSeconds: number }> {
    return Promise.resolve({ count: this.pending().length, oldestAgeSeconds: 0 });
  }
}

export class FakeUnitOfWork implements UnitOfWork {
  readonly products = new FakeRepository();
  readonly readModel = new FakeReadModel();
  readonly inbox = new FakeInbox();
  readonly outbox = new FakeOutbox();
  /** The history rows commits wrote, with their sku, as apply_product_changes stores them. */
  readonly history: (HistoryRow & { sku: string })[] = [];
  committed = false;
  private newEvents: Event[] = [];
  private causeOf: CauseOf = () => undefined;

  /** What the bus's startUow gives: this one unit of work, for the chain of the next commits. */
  startedBy(chain: Chain = {}): this {
    this.causeOf = causeOfChain(chain);
    return this;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    return fn();
  }

  async commit(): Promise<void> {
    this.refuseDuplicateRefs();
    this.committed = true;
    for (const product of this.products.seen) {
      const events = product.events.splice(0);
      // what the real unit of work writes with the products, from the same function
      const plan = commitPlan(events, EVENT_HANDLERS, this.causeOf);
      this.readModel.apply(plan.viewRows);
      for (const { event, handler, cause } of plan.outbox)
        this.outbox.append(product.sku, event, [handler], cause);
      this.history.push(...plan.history.map((row) => ({ ...row, sku: product.sku })));
      this.newEvents.push(...events);
    }
    return Promise.resolve();
  }

  async rollback(): Promise<void> {
    return Promise.resolve();
  }

  collectNewEvents(): Event[] {
    return this.newEvents.splice(0);
  }

  /** As the database's unique constraint does: the second batch with a ref is not kept. */
  private refuseDuplicateRefs(): void {
    const refs = new Set<string>();
    for (const product of this.products.all()) {
      for (const batch of [...product.batches]) {
        if (!refs.has(batch.reference)) refs.add(batch.reference);
        else {
          product.batches.splice(product.batches.indexOf(batch), 1);
          throw new DuplicateBatch(`Batch ${batch.reference} already exists`);
        }
      }
    }
  }
}

export class FakeNotifications implements Notifications {
  readonly sent = new Map<string, string[]>();

  async send(destination: string, message: string): Promise<void> {
    this.sent.set(destination, [...(this.sent.get(destination) ?? []), message]);
    return Promise.resolve();
  }
}

/** A `publish` that records what it was given. */
export function recordingPublisher(): Publish & {
  published: { channel: string; event: Event; meta: MessageMeta }[];
} {
  const published: { channel: string; event: Event; meta: MessageMeta }[] = [];
  const publish = async (channel: string, event: Event, meta: MessageMeta): Promise<void> => {
    published.push({ channel, event, meta });
    return Promise.resolve();
  };
  return Object.assign(publish, { published });
}

export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
