// Retention (SPEC section 9): delivered outbox rows, processed inbound message ids and closed
// dead letters, and audit entries are deleted once older than their setting. Every process schedules a pass; an
// advisory lock taken in each batch's transaction lets one process at a time prune, and each
// batch deletes at most BATCH rows in its own short transaction, so pruning never holds locks
// or bloats the tables the way one long DELETE would.
import type { Knex } from 'knex';
import type { Logger } from '../../service_layer/ports';

export interface RetentionSettings {
  outboxMs: number;
  inboxMs: number;
  deadLetterMs: number;
  historyMs: number;
  /** Operator actions (audit_log); 90 days when not given. */
  auditMs?: number;
}

export type Pruned = Record<
  'outbox' | 'inbox' | 'deadLetters' | 'history' | 'tombstones' | 'audit',
  number
>;

// Read-model tombstones (rows with no batch) are kept so that a write carrying an older version
// cannot bring a removed line back. Every write of allocations_view is made by
// apply_product_changes after its version gate, holding the product's row lock until it
// commits: a write with an older version than a committed row can only come from a transaction
// still open when that row was written, and none stays open past the statement and idle
// timeouts (DB_STATEMENT_TIMEOUT_MS, DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: 10 s and 30 s; minutes for
// a 20,000-line change). Redeliveries, replays and relay retries carry no old version: each
// reloads the product and commits at its current one. A day is that bound with a wide margin;
// once a tombstone is gone, the line's next row, if it has one, carries a newer version anyway.
const TOMBSTONE_AGE_MS = 24 * 3_600_000;

// Any fixed number, used by no other advisory lock of the service.
const PRUNE_LOCK = 7_413_902;
const BATCH = 1_000;

// Each selects at most BATCH rows older than the cutoff (?, in milliseconds), by an index.
// The delete checks `old` again: a tombstone written over meanwhile (a line allocated again) stays.
const OLD_ROWS: Record<keyof Pruned, { table: string; key: string | string[]; old: string }> = {
  outbox: {
    table: 'outbox',
    key: 'id',
    old: "delivered_at < now() - ? * interval '1 millisecond'",
  },
  inbox: {
    table: 'processed_messages',
    key: 'message_id',
    old: "processed_at < now() - ? * interval '1 millisecond'",
  },
  // Replayed or discarded: measured from the later of the two.
  deadLetters: {
    table: 'dead_letters',
    key: 'id',
    old: "greatest(replayed_at, deleted_at) < now() - ? * interval '1 millisecond'",
  },
  // by the BRIN index on `at`; the key is the primary key's (sku, id)
  history: {
    table: 'history',
    key: ['sku', 'id'],
    old: "at < now() - ? * interval '1 millisecond'",
  },
  // no index: a scan a pass, off the write path (an index on updated_at would cost every write)
  tombstones: {
    table: 'allocations_view',
    key: ['orderid', 'sku'],
    old: "batchref IS NULL AND updated_at < now() - ? * interval '1 millisecond'",
  },
  audit: { table: 'audit_log', key: 'id', old: "at < now() - ? * interval '1 millisecond'" },
};

const AUDIT_RETENTION_MS = 90 * 24 * 3_600_000;

export class Retention {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(
    private readonly db: Knex,
    private readonly settings: RetentionSettings,
    private readonly log: Logger,
  ) {}

  /** Deletes everything past its retention; stops early when another process is pruning. */
  async pruneOnce(): Promise<Pruned> {
    const pruned: Pruned = {
      outbox: 0,
      inbox: 0,
      deadLetters: 0,
      history: 0,
      tombstones: 0,
      audit: 0,
    };
    const ages: Record<keyof Pruned, number> = {
      outbox: this.settings.outboxMs,
      inbox: this.settings.inboxMs,
      deadLetters: this.settings.deadLetterMs,
      history: this.settings.historyMs,
      tombstones: TOMBSTONE_AGE_MS,
      audit: this.settings.auditMs ?? AUDIT_RETENTION_MS,
    };
    for (const kind of Object.keys(OLD_ROWS) as (keyof Pruned)[]) {
      for (;;) {
        const deleted = await this.pruneBatch(kind, ages[kind]);
        if (deleted === undefined) return pruned; // another process holds the lock
        pruned[kind] += deleted;
        if (deleted < BATCH) break;
      }
    }
    return pruned;
  }

  /** Prunes every `intervalMs` (the first pass soon after the start). */
  start(intervalMs: number): void {
    const pass = () => {
      this.running ??= this.pruneOnce()
        .then((pruned) => {
          if (Object.values(pruned).some((count) => count > 0)) {
            this.log.info({ pruned }, 'pruned rows past their retention');
          }
        })
        .catch((error: unknown) => this.log.warn({ err: error }, 'pruning failed'))
        .finally(() => {
          this.running = undefined;
        });
    };
    this.timer ??= setInterval(pass, intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One bounded batch in its own transaction; undefined when the lock is taken. */
  private async pruneBatch(kind: keyof Pruned, ageMs: number): Promise<number | undefined> {
    const { table, key, old } = OLD_ROWS[kind];
    return this.db.transaction(async (trx): Promise<number | undefined> => {
      const { rows } = await trx.raw<{ rows: { locked: boolean }[] }>(
        'SELECT pg_try_advisory_xact_lock(?) AS locked',
        [PRUNE_LOCK],
      );
      if (!rows[0].locked) return undefined;
      const oldest = trx(table).select(key).whereRaw(old, [ageMs]).limit(BATCH);
      return trx(table)
        .whereIn(key as string, oldest)
        .whereRaw(old, [ageMs])
        .delete();
    });
  }
}
