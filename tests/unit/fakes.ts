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
import type {
  Inbox,
  ProductRepository,
  ReadModel,
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

  async getByBatchref(ref: string): Promise<Product | undefined> {
    return Promise.resolve(
      this.track([...this.products].find((p) => p.batches.some((b) => b.reference === ref))),
    );
  }

  private track(product: Product | undefined): Product | undefined {
    if (product) this.seen.add(product);
    return product;
  }
}

export class FakeReadModel implements ReadModel {
  readonly rows = new Map<string, string>(); // `${orderid}/${sku}` -> batchref

  async addAllocation(orderid: string, sku: string, batchref: string): Promise<void> {
    this.rows.set(`${orderid}/${sku}`, batchref);
    return Promise.resolve();
  }

  async removeAllocation(orderid: string, sku: string, batchref: string): Promise<void> {
    if (this.rows.get(`${orderid}/${sku}`) === batchref) this.rows.delete(`${orderid}/${sku}`);
    return Promise.resolve();
  }
}

export class FakeInbox implements Inbox {
  readonly ids = new Set<string>();

  async markProcessed(messageId: string): Promise<boolean> {
    const fresh = !this.ids.has(messageId);
    this.ids.add(messageId);
    return Promise.resolve(fresh);
  }
}

export class FakeOutbox implements Outbox {
  readonly messages: (PendingMessage & { delivered: boolean })[] = [];
  private nextId = 1;

  append(key: string, event: Event): void {
    const id = String(this.nextId++);
    this.messages.push({
      id,
      key,
      event,
      attempts: 0,
      due: true,
      correlationId: null,
      delivered: false,
    });
  }

  async deliverPending(
    limit: number,
    deliver: (messages: PendingMessage[]) => Promise<DeliveryReport>,
  ): Promise<number> {
    const pending = this.messages.filter((m) => !m.delivered).slice(0, limit);
    if (pending.length === 0) return 0;
    const report = await deliver(pending);
    for (const m of pending) {
      if (report.delivered.includes(m.id)) m.delivered = true;
      if (report.failed.some((f) => f.id === m.id)) m.attempts += 1;
    }
    return pending.length;
  }

  async prune(): Promise<number> {
    return Promise.resolve(0);
  }

  async backlog(): Promise<{ count: number; oldestAgeSeconds: number }> {
    return Promise.resolve({
      count: this.messages.filter((m) => !m.delivered).length,
      oldestAgeSeconds: 0,
    });
  }
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
    this.committed = true;
    for (const product of this.products.seen) {
      for (const event of product.events) this.outbox.append(product.sku, event);
    }
    return Promise.resolve();
  }

  async rollback(): Promise<void> {
    return Promise.resolve();
  }

  collectNewEvents(): Event[] {
    return [...this.products.seen].flatMap((product) => product.events.splice(0));
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
