import type { Knex } from 'knex';
import type { Event } from '../domain/events';
import type { Product } from '../domain/model';
import type { Inbox, ReadModel, UnitOfWork } from '../service_layer/unit_of_work';
import { currentCorrelationId } from '../correlation';
import { HotSkus, KnexRepository } from './repository';

class KnexReadModel implements ReadModel {
  constructor(private readonly trx: Knex.Transaction) {}

  async addAllocation(orderid: string, sku: string, batchref: string): Promise<void> {
    await this.trx('allocations_view')
      .insert({ orderid, sku, batchref })
      .onConflict(['orderid', 'sku'])
      .merge(['batchref']);
  }

  async removeAllocation(orderid: string, sku: string): Promise<void> {
    await this.trx('allocations_view').where({ orderid, sku }).delete();
  }
}

class KnexInbox implements Inbox {
  constructor(private readonly trx: Knex.Transaction) {}

  async markProcessed(messageId: string): Promise<boolean> {
    const inserted = await this.trx('processed_messages')
      .insert({ message_id: messageId })
      .onConflict('message_id')
      .ignore()
      .returning('message_id');
    return inserted.length > 0;
  }
}

export interface KnexUnitOfWorkOptions {
  /** Which events leave the service: those are written to the outbox on commit. */
  outboxed: (event: Event) => boolean;
  hotSkus: HotSkus;
}

/** One transaction per `run`; nothing is saved unless the handler calls `commit()`. */
export class KnexUnitOfWork implements UnitOfWork {
  private trx: Knex.Transaction | undefined;
  private repository: KnexRepository | undefined;
  private committed = false;
  private committedProducts: Product[] = [];

  constructor(
    private readonly db: Knex,
    private readonly options: KnexUnitOfWorkOptions,
  ) {}

  get products(): KnexRepository {
    return this.started().repository;
  }

  get readModel(): ReadModel {
    return new KnexReadModel(this.started().trx);
  }

  get inbox(): Inbox {
    return new KnexInbox(this.started().trx);
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    // No callback: knex would commit implicitly when it returned.
    this.trx = await this.db.transaction();
    this.repository = new KnexRepository(this.trx, this.options.hotSkus);
    this.committed = false;
    try {
      return await fn();
    } finally {
      if (!this.trx.isCompleted()) await this.trx.rollback();
      this.trx = undefined;
    }
  }

  async commit(): Promise<void> {
    const { trx, repository } = this.started();
    await repository.saveAll();
    await this.writeOutbox(trx, [...repository.seen]);
    await trx.commit();
    this.committed = true;
    this.committedProducts = [...repository.seen];
  }

  async rollback(): Promise<void> {
    await this.started().trx.rollback();
  }

  collectNewEvents(): Event[] {
    const products = this.committed ? this.committedProducts : [];
    this.committedProducts = [];
    return products.flatMap((product) => product.events.splice(0));
  }

  private async writeOutbox(trx: Knex.Transaction, products: Product[]): Promise<void> {
    const correlationId = currentCorrelationId() ?? null;
    const rows = products.flatMap((product) =>
      product.events.filter(this.options.outboxed).map((event) => ({
        key: product.sku,
        type: event.constructor.name,
        payload: JSON.stringify(event),
        correlation_id: correlationId,
      })),
    );
    if (rows.length > 0) await trx('outbox').insert(rows);
  }

  private started(): { trx: Knex.Transaction; repository: KnexRepository } {
    if (!this.trx || !this.repository) throw new Error('Unit of work used outside run()');
    return { trx: this.trx, repository: this.repository };
  }
}
