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
  /** Operator actions (audit_log); 90 days when not given. */
  auditMs?: number;
}

export type Pruned = Record<'outbox' | 'inbox' | 'deadLetters' | 'audit', number>;

// Any fixed number, used by no other advisory lock of the service.
const PRUNE_LOCK = 7_413_902;
const BATCH = 1_000;

// Each selects at most BATCH rows older than the cutoff (?, in milliseconds), by an index.
const OLD_ROWS: Record<keyof Pruned, { table: string; key: string; old: string }> = {
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
    const pruned: Pruned = { outbox: 0, inbox: 0, deadLetters: 0, audit: 0 };
    const ages: Record<keyof Pruned, number> = {
      outbox: this.settings.outboxMs,
      inbox: this.settings.inboxMs,
      deadLetters: this.settings.deadLetterMs,
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
      return trx(table).whereIn(key, oldest).delete();
    });
  }
}
