import type { Knex } from 'knex';
import { currentCorrelationId } from '../correlation';
import type { Event } from '../domain/events';
import type { Product } from '../domain/model';
import { ConcurrencyError, DuplicateBatch } from '../service_layer/errors';
import { type Inbox, type ReadModel, type UnitOfWork } from '../service_layer/unit_of_work';
import { isUniqueViolation } from './db';
import { translateDbError } from './pg_errors';
import { KnexRepository, type Session } from './repository';
import { HotSkus, SkuLocks } from './sku_locks';
import { CHECKS_PASSED, CommitGroup, WritePlan } from './write_plan';

export interface KnexUnitOfWorkOptions {
  /** Which events leave the service: those are written to the outbox on commit. */
  outboxed: (event: Event) => boolean;
  /** Shared by the units of work of one process. */
  skuLocks: SkuLocks;
  hotSkus: HotSkus;
  commitGroup: CommitGroup;
}

/** One run of a unit of work: its reads, its sku claims, and the writes it will commit. */
class Run implements Session {
  readonly plan = new WritePlan();
  readonly repository = new KnexRepository(this);
  private trx: Knex.Transaction | undefined;
  private readonly releases = new Map<string, () => void>();

  constructor(
    private readonly db: Knex,
    private readonly options: KnexUnitOfWorkOptions,
  ) {}

  runner(): Knex | Knex.Transaction {
    return this.trx ?? this.db;
  }

  /**
   * Queues behind this process's other units of work on the sku, and, when other processes
   * contend for it too, takes its row lock in a transaction so they queue as well.
   */
  async claim(sku: string): Promise<void> {
    if (this.releases.has(sku)) return;
    this.releases.set(sku, await this.options.skuLocks.acquire(sku));
    if (this.options.hotSkus.has(sku)) {
      this.trx ??= await this.db.transaction();
      await this.trx.raw('SELECT 1 FROM products WHERE sku = ? FOR UPDATE', [sku]);
    }
  }

  /** Writes the plan in one statement; throws ConcurrencyError when a version check failed. */
  async commit(): Promise<void> {
    let passed: boolean;
    try {
      if (!this.trx && this.plan.isUnconditional) {
        await this.options.commitGroup.submit(this.plan);
        passed = true;
      } else {
        passed = await this.plan.execute(this.runner());
      }
    } catch (error) {
      if (isUniqueViolation(error, 'batches_reference_unique')) {
        // Only a race gets here: handlers check for the ref first. Detail: Key (reference)=(REF)...
        const ref = /=\((.*)\) already exists/.exec((error as { detail?: string }).detail ?? '');
        throw new DuplicateBatch(`Batch ${ref?.[1] ?? ''} already exists`);
      }
      // Someone else wrote the same line, message id or sku at the same moment.
      if (isUniqueViolation(error)) throw new ConcurrencyError((error as Error).message);
      throw error;
    }
    if (!passed) {
      for (const product of this.repository.seen) this.options.hotSkus.mark(product.sku);
      throw new ConcurrencyError('A product was changed by another transaction');
    }
    if (this.trx) {
      // knex's commit() resolves even when COMMIT fails (knex#3847); its execution promise
      // is what rejects then.
      await this.trx.commit();
      await this.trx.executionPromise;
    }
  }

  async end(): Promise<void> {
    if (this.trx && !this.trx.isCompleted()) await this.trx.rollback();
    for (const release of this.releases.values()) release();
  }
}

class PlannedReadModel implements ReadModel {
  constructor(private readonly run: Run) {}

  async addAllocation(orderid: string, sku: string, batchref: string): Promise<void> {
    this.run.plan.write(
      `INSERT INTO allocations_view (orderid, sku, batchref)
       SELECT ?::text, ?::text, ?::text WHERE ${CHECKS_PASSED}
       ON CONFLICT (orderid, sku) DO UPDATE SET batchref = EXCLUDED.batchref`,
      [orderid, sku, batchref],
    );
    return Promise.resolve();
  }

  async removeAllocation(orderid: string, sku: string, batchref: string): Promise<void> {
    this.run.plan.write(
      `DELETE FROM allocations_view
       WHERE orderid = ? AND sku = ? AND batchref = ? AND ${CHECKS_PASSED}`,
      [orderid, sku, batchref],
    );
    return Promise.resolve();
  }
}

class PlannedInbox implements Inbox {
  constructor(private readonly run: Run) {}

  async markProcessed(messageId: string): Promise<boolean> {
    const seen = await this.run
      .runner()('processed_messages')
      .first(1)
      .where({ message_id: messageId });
    if (seen) return false;
    // A duplicate committing first makes this insert a unique violation: a conflict, retried.
    this.run.plan.write(
      `INSERT INTO processed_messages (message_id) SELECT ?::text WHERE ${CHECKS_PASSED}`,
      [messageId],
    );
    return true;
  }
}

/**
 * A unit of work reads outside any transaction and commits every write as one atomic,
 * version-checked statement (see WritePlan): nothing is saved unless the handler commits, and
 * two units of work that change one product can never both commit.
 */
export class KnexUnitOfWork implements UnitOfWork {
  private current: Run | undefined;
  private committedProducts: Product[] = [];

  constructor(
    private readonly db: Knex,
    private readonly options: KnexUnitOfWorkOptions,
  ) {}

  get products(): KnexRepository {
    return this.started().repository;
  }

  get readModel(): ReadModel {
    return new PlannedReadModel(this.started());
  }

  get inbox(): Inbox {
    return new PlannedInbox(this.started());
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    const run = new Run(this.db, this.options);
    this.current = run;
    this.committedProducts = [];
    try {
      return await fn();
    } catch (error) {
      throw translateDbError(error); // a timeout or an outage is Unavailable, a deadlock a conflict
    } finally {
      this.current = undefined;
      await run.end();
    }
  }

  async commit(): Promise<void> {
    const run = this.started();
    run.repository.planWrites(run.plan);
    this.planOutbox(run);
    await run.commit();
    this.committedProducts = [...run.repository.seen];
  }

  async rollback(): Promise<void> {
    await this.started().end();
  }

  collectNewEvents(): Event[] {
    const products = this.committedProducts;
    this.committedProducts = [];
    return products.flatMap((product) => product.events.splice(0));
  }

  private planOutbox(run: Run): void {
    const correlationId = currentCorrelationId() ?? null;
    const rows = [...run.repository.seen].flatMap((product) =>
      product.events
        .filter(this.options.outboxed)
        .map((event) => [
          product.sku,
          event.constructor.name,
          JSON.stringify(event),
          correlationId,
        ]),
    );
    if (rows.length === 0) return;
    run.plan.write(
      `INSERT INTO outbox (key, type, payload, correlation_id)
       SELECT key, type, payload::jsonb, correlation_id
       FROM (VALUES ${rows.map(() => '(?::text, ?::text, ?::text, ?::text)').join(', ')})
         AS v (key, type, payload, correlation_id)
       WHERE ${CHECKS_PASSED}`,
      rows.flat(),
    );
  }

  private started(): Run {
    if (!this.current) throw new Error('Unit of work used outside run()');
    return this.current;
  }
}
