// The write path, in one read.
//
// 1. Reads. A handler loads a product with one statement on the pool, outside any transaction:
//    its version, its batches with their allocated totals, and only the lines the command can
//    touch (repository.ts). Cost stays flat as history grows.
// 2. Commit. Every change to the product (batches, lines freed and allocated, the read-model rows
//    its events' inline handlers write, one outbox row per outbox handler of each event, the
//    inbound message id) goes to the database as ONE call,
//    `apply_product_changes(sku, changes)` (migrations/functions/write_side.ts). Its
//    first statement is the version check: when another unit of work changed the product since
//    it was loaded, it raises serialization_failure and nothing is written; the bus reloads and
//    retries. Two round trips per allocation, one fixed prepared statement, and a gate that no
//    write can forget. Units committing one product on the pool in the same turn share one
//    statement and transaction (group_commit.ts).
// 3. Contention. Within a process, units of work on one sku queue behind each other (SkuLocks),
//    so they do not race for its version. Across processes, a sku that keeps losing races
//    (HotSkus), and every quantity change (it may read thousands of lines), is loaded under
//    its product's row lock in a transaction, and the same call commits it: racers queue on
//    the row instead of retrying, and a long change cannot be starved.
// What SkuLocks and HotSkus buy, measured, is beside them in sku_locks.ts; the write path as a
// whole is in BENCHMARKS.md (spread, hot, history).
import type { Knex } from 'knex';
import type { Event } from '../../domain/events';
import { currentTraceparent } from '../../service_layer/tracing';
import type { Inbox, ReadModel, ReadModelRow, UnitOfWork } from '../../service_layer/unit_of_work';
import { isVersionConflict, translateCommitError, translateDbError } from './pg_errors';
import type { GroupCommit } from './group_commit';
import { preparedQuery, type Query } from './prepared';
import { productChanges, type ProductChanges } from './product_changes';
import { KnexRepository, type Session } from './repository';
import { HotSkus, SkuLocks } from './sku_locks';

export interface KnexUnitOfWorkOptions {
  /** The names of an event's outbox handlers: its outbox rows, one each (EVENT_HANDLERS). */
  handlersOf: (event: Event) => readonly string[];
  /** Runs the inline handlers of a commit's events (MessageBus.runInline). */
  runInline: (events: readonly Event[], readModel: ReadModel) => void;
  /** Shared by the units of work of one process. */
  skuLocks: SkuLocks;
  hotSkus: HotSkus;
  /** Commits one product's changes together with other units' (group_commit.ts). */
  groupCommit: GroupCommit;
  /** Told after a commit that wrote outbox rows (the relay delivers them). */
  onOutboxWritten: () => void;
  /** The connections' statement timeout (0: none), which large changes extend. */
  statementTimeoutMs: number;
}

const APPLY = 'SELECT apply_product_changes($1, $2::jsonb)';
// See allowForSize: about 0.2 ms per line on a quiet machine, ten times that as the allowance.
const LARGE_CHANGE_LINES = 1_000;
const MS_PER_LINE = 2;
const CLIENT_GRACE_MS = 5_000;

/** One run of a unit of work: its reads, its sku claims, and what it will write. */
class Run implements Session {
  readonly repository = new KnexRepository(this);
  messageId: string | undefined;
  messageIdMadeHere = false;
  private trx: Knex.Transaction | undefined;
  private readonly releases = new Map<string, () => void>();

  constructor(
    private readonly db: Knex,
    private readonly options: KnexUnitOfWorkOptions,
    private readonly correlationId: string | null,
  ) {}

  query: Query = (sql, bindings, timeoutMs) =>
    preparedQuery(this.trx ?? this.db)(sql, bindings, timeoutMs);

  async claim(sku: string, { lock = false } = {}): Promise<void> {
    if (!this.releases.has(sku)) this.releases.set(sku, await this.options.skuLocks.acquire(sku));
    if (lock || this.options.hotSkus.has(sku)) {
      this.trx ??= await this.db.transaction();
      await this.query('SELECT 1 FROM products WHERE sku = $1 FOR UPDATE', [sku]);
    }
  }

  /** Writes everything in one statement per product (in a transaction when more than one). */
  async commit(): Promise<number> {
    const products = [...this.repository.seen];
    const changes = products.map((product, i) => {
      const viewRows: ReadModelRow[] = [];
      this.options.runInline(product.events, { apply: (rows) => void viewRows.push(...rows) });
      return productChanges(product, this.repository.snapshots.get(product), {
        handlersOf: this.options.handlersOf,
        viewRows,
        correlationId: this.correlationId,
        traceparent: currentTraceparent() ?? null,
        messageId: i === 0 ? this.messageId : undefined,
        messageIdMadeHere: this.messageIdMadeHere,
      });
    });
    const timeoutMs = await this.allowForSize(changes);
    const applies = changes
      .filter((c) => c !== undefined)
      .map((c): [string, string] => [c.sku, JSON.stringify(c.changes)]);
    if (applies.length > 1) this.trx ??= await this.db.transaction();
    try {
      if (applies.length === 1 && !this.trx && timeoutMs === undefined) {
        // one product on the pool: committed with the others of this turn (group_commit.ts)
        await this.options.groupCommit(...applies[0]);
      } else {
        for (const bindings of applies) await this.query(APPLY, bindings, timeoutMs);
      }
      if (this.trx) {
        // knex's commit() resolves even when COMMIT fails (knex#3847); its execution promise
        // is what rejects then.
        await this.trx.commit();
        await this.trx.executionPromise;
      }
    } catch (error) {
      // a sku that lost a race is hot from now on: its next loads take the row lock (HotSkus)
      if (isVersionConflict(error)) {
        for (const product of products) this.options.hotSkus.mark(product.sku);
      }
      throw translateCommitError(error);
    }
    return changes.reduce((sum, c) => sum + (c?.changes.outbox.length ?? 0), 0);
  }

  /**
   * A change that frees or allocates thousands of lines gets a statement timeout that grows with
   * them (set for its transaction only): under load, 20,000 lines took longer than the 10 s
   * default, timed out on every retry, and never went through. Still a bound, just a larger one.
   */
  private async allowForSize(
    changes: ({ changes: ProductChanges } | undefined)[],
  ): Promise<number | undefined> {
    const lines = changes.reduce(
      (sum, c) => sum + (c ? c.changes.freed_lines.length + c.changes.allocated_lines.length : 0),
      0,
    );
    const base = this.options.statementTimeoutMs;
    if (lines < LARGE_CHANGE_LINES || base === 0) return undefined;
    const budget = base + lines * MS_PER_LINE;
    this.trx ??= await this.db.transaction();
    await this.query("SELECT set_config('statement_timeout', $1, true)", [`${budget}ms`]);
    return budget + CLIENT_GRACE_MS;
  }

  async end(): Promise<void> {
    if (this.trx && !this.trx.isCompleted()) await this.trx.rollback();
    for (const release of this.releases.values()) release();
  }
}

export class KnexUnitOfWork implements UnitOfWork {
  private current: Run | undefined;

  constructor(
    private readonly db: Knex,
    private readonly options: KnexUnitOfWorkOptions,
    /** The chain its outbox rows belong to (MessageBus Chain). */
    private readonly correlationId: string | null = null,
  ) {}

  get products(): KnexRepository {
    return this.started().repository;
  }

  get inbox(): Inbox {
    const run = this.started();
    return {
      async markProcessed(messageId: string, madeHere = false): Promise<boolean> {
        const seen = await run.query(
          'SELECT 1 FROM processed_messages WHERE message_id = $1 AND made_here = $2',
          [messageId, madeHere],
        );
        if (seen.length > 0) return false;
        run.messageId = messageId;
        run.messageIdMadeHere = madeHere;
        return true;
      },
    };
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    const run = new Run(this.db, this.options, this.correlationId);
    this.current = run;
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
    const outboxRows = await this.started().commit();
    if (outboxRows > 0) this.options.onOutboxWritten();
  }

  async rollback(): Promise<void> {
    await this.started().end();
  }

  private started(): Run {
    if (!this.current) throw new Error('Unit of work used outside run()');
    return this.current;
  }
}
