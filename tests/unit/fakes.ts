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
import { EVENT_HANDLERS } from '../../src/allocation/service_layer/handlers';
import { outboxHandlerNames, runInline } from '../../src/allocation/service_layer/messagebus';
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
  append(key: string, event: Event, handlers = handlerNames(event)): void {
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
  ): Promise<number> {
    const pending = this.pending().slice(0, limit);
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

function handlerNames(event: Event): string[] {
  return outboxHandlerNames(EVENT_HANDLERS, event);
}

export class FakeUnitOfWork implements UnitOfWork {
  readonly products = new FakeRepository();
  readonly readModel = new FakeReadModel();
  readonly inbox = new FakeInbox();
  readonly outbox = new FakeOutbox();
  committed = false;

  async run<T>(fn: () => Promise<T>): Promise<T> {
    return fn();
  }

  async commit(): Promise<void> {
    this.refuseDuplicateRefs();
    this.committed = true;
    for (const product of this.products.seen) {
      const events = product.events.splice(0);
      runInline(EVENT_HANDLERS, events, this.readModel);
      for (const event of events) this.outbox.append(product.sku, event);
    }
    return Promise.resolve();
  }

  async rollback(): Promise<void> {
    return Promise.resolve();
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
