import type { Knex } from 'knex';
import { eventFromStorage } from '../domain/events';
import type { DeliveryReport, Outbox, PendingMessage } from '../service_layer/outbox';

// Any fixed number: the advisory lock that lets one relay at a time deliver, which keeps
// per-product order and avoids double sends when several processes run a relay.
const RELAY_LOCK = 7_413_901;

interface OutboxRow {
  id: string;
  key: string;
  type: string;
  payload: Record<string, unknown>;
  attempts: number;
  due: boolean;
  correlation_id: string | null;
}

export class KnexOutbox implements Outbox {
  constructor(private readonly db: Knex) {}

  async deliverPending(
    limit: number,
    deliver: (messages: PendingMessage[]) => Promise<DeliveryReport>,
  ): Promise<number> {
    const trx = await this.db.transaction();
    try {
      const lock = await trx.raw<{ rows: { locked: boolean }[] }>(
        'SELECT pg_try_advisory_xact_lock(?) AS locked',
        [RELAY_LOCK],
      );
      if (!lock.rows[0].locked) return 0;
      const rows: OutboxRow[] = await trx('outbox')
        .select('id', 'key', 'type', 'payload', 'attempts', 'correlation_id')
        .select(trx.raw('next_attempt_at <= now() AS due'))
        .whereNull('delivered_at')
        .orderBy('id')
        .limit(limit);
      if (rows.length === 0) return 0;

      const report = await deliver(
        rows.map((r) => ({
          id: r.id,
          key: r.key,
          event: eventFromStorage(r.type, r.payload),
          attempts: r.attempts,
          due: r.due,
          correlationId: r.correlation_id,
        })),
      );
      if (report.delivered.length > 0) {
        await trx('outbox').whereIn('id', report.delivered).update({ delivered_at: trx.fn.now() });
      }
      for (const failure of report.failed) {
        await trx('outbox')
          .where({ id: failure.id })
          .update({
            attempts: trx.raw('attempts + 1'),
            last_error: failure.error.slice(0, 2000),
            next_attempt_at: trx.raw(`now() + ? * interval '1 millisecond'`, [failure.retryInMs]),
          });
      }
      await trx.commit();
      return rows.length;
    } finally {
      if (!trx.isCompleted()) await trx.rollback();
    }
  }

  async prune(olderThanMs: number): Promise<number> {
    return this.db('outbox')
      .where(
        'delivered_at',
        '<',
        this.db.raw(`now() - ? * interval '1 millisecond'`, [olderThanMs]),
      )
      .delete();
  }

  async backlog(): Promise<{ count: number; oldestAgeSeconds: number }> {
    const row = await this.db('outbox')
      .whereNull('delivered_at')
      .first(
        this.db.raw('count(*)::int AS count'),
        this.db.raw('coalesce(extract(epoch FROM now() - min(created_at)), 0)::float AS age'),
      );
    return { count: row?.count ?? 0, oldestAgeSeconds: row?.age ?? 0 };
  }
}
