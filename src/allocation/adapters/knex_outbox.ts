import type { Knex } from 'knex';
import { eventFromStorage } from '../domain/events';
import type { DeliveryReport, Outbox, PendingMessage } from '../service_layer/ports';
import { RelayLease } from './relay_lease';

// How long a process that is not the leader waits before asking for the lease again.
const FOLLOWER_RETRY_MS = 1_000;

interface Connection {
  query(config: string | { text: string; values?: unknown[]; name?: string }): Promise<{
    rows: Record<string, unknown>[];
  }>;
}

interface PoolClient {
  acquireConnection(): Promise<Connection>;
  releaseConnection(connection: Connection): Promise<void>;
}

// Due messages, oldest first, skipping any whose (key, type, handler) has an earlier message
// still backing off: those wait, to keep their order, without filling the batch. The backing-off
// ones are found first (few, and at most one scan of the undelivered rows): a per-row NOT EXISTS
// probe was quadratic in a product's backlog and timed out at 40,000 rows (a 20,000-line change).
const PENDING = {
  name: 'outbox_pending',
  text: `WITH blocked AS (
           SELECT key, type, handler, min(id) AS first_id FROM outbox
           WHERE delivered_at IS NULL AND next_attempt_at > now()
           GROUP BY key, type, handler)
         SELECT o.id, o.key, o.type, o.handler, o.payload, o.attempts, o.correlation_id,
                o.created_at, o.traceparent
         FROM outbox o
         LEFT JOIN blocked b ON b.key = o.key AND b.type = o.type AND b.handler = o.handler
         WHERE o.delivered_at IS NULL AND o.next_attempt_at <= now()
           AND (b.first_id IS NULL OR o.id < b.first_id)
         ORDER BY o.id LIMIT $1`,
};
const DELIVERED = {
  name: 'outbox_delivered',
  text: 'UPDATE outbox SET delivered_at = now() WHERE id = ANY($1::bigint[])',
};
const FAILED = {
  name: 'outbox_failed',
  text: `UPDATE outbox o SET attempts = o.attempts + 1, last_error = f.error,
           next_attempt_at = now() + f.delay * interval '1 millisecond'
         FROM unnest($1::bigint[], $2::text[], $3::int[]) AS f (id, error, delay)
         WHERE o.id = f.id`,
};

// Moves messages the relay gave up on to the dead letters, in one statement, with what a replay
// needs to put them back (key, type, handler, correlation id). The source names the handler
// (outbox:email, outbox:line_allocated, ...).
const DEAD = {
  name: 'outbox_dead',
  text: `WITH dead AS (
           DELETE FROM outbox o USING unnest($1::bigint[], $2::text[]) AS f (id, error)
           WHERE o.id = f.id
           RETURNING o.key, o.type, o.handler, o.payload, o.attempts, o.correlation_id,
             o.traceparent, f.error)
         INSERT INTO dead_letters (source, payload, reason, attempts,
           outbox_key, outbox_type, outbox_handler, correlation_id, traceparent)
         SELECT 'outbox:' || handler, payload::text, error, attempts + 1,
           key, type, handler, correlation_id, traceparent
         FROM dead`,
};

export interface OutboxFailure {
  id: string;
  key: string;
  type: string;
  handler: string;
  attempts: number;
  last_error: string;
  created_at: Date;
  next_attempt_at: Date;
}

/**
 * The outbox table. One relay at a time delivers: the leader, which holds the relay lease
 * (adapters/relay_lease.ts), so per-product order holds and nothing is sent twice in the normal
 * course, however many processes run a relay. Under load a drain is one select and one update,
 * with no transaction around them. The lease is renewed while a drain delivers and given up
 * when one finds nothing to do; if the leader dies, its lease expires and another process's
 * relay takes over.
 */
export class KnexOutbox implements Outbox {
  private readonly lease: RelayLease;
  private retryLeadAt = 0;

  constructor(
    private readonly db: Knex,
    leaseMs = 5_000,
  ) {
    this.lease = new RelayLease(db, leaseMs);
  }

  async deliverPending(
    limit: number,
    deliver: (messages: PendingMessage[]) => Promise<DeliveryReport>,
  ): Promise<number> {
    if (!(await this.leadership())) return 0;
    const handed = await this.renewingWhile(() => this.drain(limit, deliver));
    // Lead only while there is work: an idle leader steps down, so whichever process has
    // messages next (another replica, a restarted one) can deliver them at once.
    if (handed === 0) await this.lease.release();
    return handed;
  }

  private async drain(
    limit: number,
    deliver: (messages: PendingMessage[]) => Promise<DeliveryReport>,
  ): Promise<number> {
    const client = this.db.client as PoolClient;
    const connection = await client.acquireConnection();
    try {
      const { rows } = await connection.query({ ...PENDING, values: [limit] });
      if (rows.length === 0) return 0;
      const readable = rows.flatMap((row) => {
        try {
          return [toPending(row)];
        } catch {
          return []; // a type this version does not know (say, mid-deploy): left for later
        }
      });
      const report = await deliver(readable);
      if (report.delivered.length > 0) {
        await connection.query({ ...DELIVERED, values: [report.delivered] });
      }
      if (report.failed.length > 0) {
        const failed = report.failed;
        await connection.query({
          ...FAILED,
          values: [
            failed.map((f) => f.id),
            failed.map((f) => f.error.slice(0, 2000)),
            failed.map((f) => f.retryInMs),
          ],
        });
      }
      if (report.dead.length > 0) {
        const dead = report.dead;
        await connection.query({
          ...DEAD,
          values: [dead.map((d) => d.id), dead.map((d) => d.error.slice(0, 2000))],
        });
      }
      return rows.length;
    } finally {
      await client.releaseConnection(connection);
    }
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

  /** Undelivered messages whose last delivery failed, newest first (the operator console). */
  async recentFailures(limit: number): Promise<OutboxFailure[]> {
    return this.db('outbox')
      .whereNull('delivered_at')
      .whereNotNull('last_error')
      .orderBy('id', 'desc')
      .limit(limit)
      .select(['id', 'key', 'type', 'handler', 'attempts', 'last_error'])
      .select(['created_at', 'next_attempt_at']);
  }

  /** Gives up the lease, so another process's relay can take over at once. */
  async close(): Promise<void> {
    await this.lease.release().catch(() => undefined);
  }

  /**
   * True when this process may deliver now. A fresh lease costs no round trip; one that has
   * run a third of its time is renewed; a follower asks at most once per FOLLOWER_RETRY_MS.
   */
  private async leadership(): Promise<boolean> {
    if (this.lease.heldFor((this.lease.ttlMs * 2) / 3)) return true;
    if (!this.lease.heldFor(0) && Date.now() < this.retryLeadAt) return false;
    if (await this.lease.acquire()) return true;
    this.retryLeadAt = Date.now() + FOLLOWER_RETRY_MS;
    return false;
  }

  /**
   * Keeps the lease while a drain runs (a slow SMTP server, say), renewing it every third of
   * its time; waits for a renewal in flight, so none can land after a release.
   */
  private async renewingWhile<T>(work: () => Promise<T>): Promise<T> {
    let renewal: Promise<unknown> = Promise.resolve();
    const timer = setInterval(() => {
      renewal = this.lease.renew().catch(() => false);
    }, this.lease.ttlMs / 3);
    try {
      return await work();
    } finally {
      clearInterval(timer);
      await renewal;
    }
  }
}

function toPending(row: Record<string, unknown>): PendingMessage {
  return {
    id: String(row.id),
    key: String(row.key),
    event: eventFromStorage(String(row.type), row.payload as Record<string, unknown>),
    handler: String(row.handler),
    attempts: Number(row.attempts),
    correlationId: (row.correlation_id as string | null) ?? null,
    occurredAt: row.created_at as Date,
    traceparent: (row.traceparent as string | null) ?? null,
  };
}
