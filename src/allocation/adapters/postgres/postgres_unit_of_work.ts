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
//    write can forget. How a unit commits is decided when it claims its skus (Run.claim): on
//    the pool, in one statement with the other units of its turn (group_commit.ts), or in a
//    transaction of its own for a row lock (3.), several products, or thousands of lines.
// 3. Contention. Within a process, units of work on one sku queue behind each other (SkuLocks),
//    so they do not race for its version. Across processes, a sku that keeps losing races
//    (HotSkus), and every quantity change (it may read thousands of lines), is loaded under
//    its product's row lock in a transaction, and the same call commits it: racers queue on
//    the row instead of retrying, and a long change cannot be starved.
// What SkuLocks and HotSkus buy, measured, is beside them in sku_locks.ts; the write path as a
// whole is in BENCHMARKS.md (spread, hot, history).
import type pg from 'pg';
import type { Event } from '../../domain/events';
import type { OriginOf } from '../../service_layer/command_batches';
import type { HandlerTable } from '../../service_layer/commit_plan';
import type { CauseOf } from '../../service_layer/history';
import { currentTraceparent } from '../../service_layer/tracing';
import type { Inbox, UnitOfWork } from '../../service_layer/unit_of_work';
import type { GroupCommit } from './group_commit';
import type { GroupLoad } from './group_load';
import { isVersionConflict, translateCommitError, translateDbError } from './pg_errors';
import { preparedQuery, type Query } from './prepared';
import { runInbox } from './postgres_inbox';
import { LARGE_CHANGE_LINES, productWrites } from './product_changes';
import { LOAD_PRODUCT, PostgresRepository, type Session } from './repository';
import type { HotSkus, SkuLocks } from './sku_locks';

export interface PostgresUnitOfWorkOptions {
  /** What each event's commit writes besides the product (EVENT_HANDLERS, as data). */
  eventHandlers: HandlerTable;
  /** Shared by the units of work of one process. */
  skuLocks: SkuLocks;
  hotSkus: HotSkus;
  /** Commits one product's changes together with other units' (group_commit.ts). */
  groupCommit: GroupCommit;
  /** Loads one product together with other units' loads (group_load.ts). */
  groupLoad: GroupLoad;
}

const APPLY = 'SELECT apply_product_changes($1, $2::jsonb)';
const LOCK_PRODUCT = 'SELECT 1 FROM products WHERE sku = $1 FOR UPDATE';
const SET_STATEMENT_TIMEOUT = "SELECT set_config('statement_timeout', $1, true)";
// A change of LARGE_CHANGE_LINES or more gets a statement timeout that grows with its lines (for
// its transaction only): under load, 20,000 lines took longer than the 10 s default, timed out
// on every retry, and never went through. Still a bound, just a larger one. About 0.2 ms per
// line on a quiet machine; ten times that as the allowance.
const MS_PER_LINE = 2;
const CLIENT_GRACE_MS = 5_000;

/** One run of a unit of work: its sku claims, its reads, and how it writes. */
class Run implements Session {
  readonly repository = new PostgresRepository(this);
  messageId: string | undefined;
  messageIdMadeHere = false;
  /** A connection in a transaction, when a claim decided the unit needs one. */
  private trx: pg.PoolClient | undefined;
  private committed = false;
  private readonly releases = new Map<string, () => void>();

  constructor(
    private readonly pool: pg.Pool,
    private readonly options: PostgresUnitOfWorkOptions,
    private readonly correlationId: string | null,
    private readonly causeOf: CauseOf,
    private readonly originOf: OriginOf | undefined,
  ) {}

  load = <R>(sku: string, orderidsJson: string): Promise<R[]> =>
    this.trx
      ? this.query<R>(LOAD_PRODUCT, [orderidsJson, sku])
      : this.options.groupLoad<R>(sku, orderidsJson);

  query: Query = (text, values, timeoutMs) =>
    preparedQuery(this.trx ?? this.pool)(text, values, timeoutMs);

  async claim(sku: string, { lock = false, lines = 1 } = {}): Promise<void> {
    if (!this.releases.has(sku)) this.releases.set(sku, await this.options.skuLocks.acquire(sku));
    lock ||= this.options.hotSkus.has(sku);
    if (lock || this.releases.size > 1 || lines >= LARGE_CHANGE_LINES) await this.begin();
    if (lock) await this.query(LOCK_PRODUCT, [sku]);
  }

  /** Writes every product's changes; the events committed. */
  async commit(): Promise<Event[]> {
    const { events, writes, lines } = productWrites(this.repository, {
      eventHandlers: this.options.eventHandlers,
      correlationId: this.correlationId,
      traceparent: currentTraceparent() ?? null,
      causeOf: this.causeOf,
      messageId: this.messageId,
      originOf: this.originOf,
      messageIdMadeHere: this.messageIdMadeHere,
    });
    if (writes.length === 0) return events;
    try {
      if (!this.trx) {
        // one product (one claim) on the pool: committed with the others of this turn
        if (writes.length > 1) throw new Error('Several products written without a claim each');
        await this.options.groupCommit(...writes[0]);
      } else {
        const timeoutMs = await this.allowForSize(lines);
        for (const write of writes) await this.query(APPLY, write, timeoutMs);
        await this.trx.query('COMMIT');
        this.committed = true;
      }
    } catch (error) {
      // a sku that lost a race is hot from now on: its next loads take the row lock (HotSkus)
      if (isVersionConflict(error)) {
        for (const [sku] of writes) this.options.hotSkus.mark(sku);
      }
      throw translateCommitError(error);
    }
    return events;
  }

  /** The client's limit for a large change's statements, after raising the server's. */
  private async allowForSize(lines: number): Promise<number | undefined> {
    const base = Number(this.pool.options.statement_timeout ?? 0);
    if (lines < LARGE_CHANGE_LINES || base === 0) return undefined;
    const budget = base + lines * MS_PER_LINE;
    await this.query(SET_STATEMENT_TIMEOUT, [`${budget}ms`]);
    return budget + CLIENT_GRACE_MS;
  }

  private async begin(): Promise<void> {
    if (this.trx) return;
    this.trx = await this.pool.connect();
    await this.trx.query('BEGIN'); // when it fails, end() closes the connection
  }

  /** Gives the connection and the skus back, rolling back what was not committed. */
  async end(): Promise<void> {
    const trx = this.trx;
    this.trx = undefined;
    if (trx && !this.committed) {
      const failed = await trx.query('ROLLBACK').then(
        () => undefined,
        (e: Error) => e,
      );
      trx.release(failed); // a connection that cannot roll back is closed
    } else trx?.release();
    for (const release of this.releases.values()) release();
    this.releases.clear();
  }
}

export class PostgresUnitOfWork implements UnitOfWork {
  private current: Run | undefined;
  private readonly committed: Event[] = [];

  constructor(
    private readonly pool: pg.Pool,
    private readonly options: PostgresUnitOfWorkOptions,
    /** The chain its outbox rows belong to (MessageBus Chain). */
    private readonly correlationId: string | null = null,
    /** The causes its history rows name (service_layer/history.ts). */
    private readonly causeOf: CauseOf = () => undefined,
    private readonly originOf?: OriginOf, // each event's own, in a batch (command_batches.ts)
  ) {}

  get products(): PostgresRepository {
    return this.started().repository;
  }

  get inbox(): Inbox {
    return runInbox(this.started());
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    const run = new Run(this.pool, this.options, this.correlationId, this.causeOf, this.originOf);
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
    this.committed.push(...(await this.started().commit()));
  }

  async rollback(): Promise<void> {
    await this.started().end();
  }

  collectNewEvents(): Event[] {
    return this.committed.splice(0);
  }

  private started(): Run {
    if (!this.current) throw new Error('Unit of work used outside run()');
    return this.current;
  }
}
