import type { Knex } from 'knex';
import { eventFromStorage } from '../domain/events';
import type { DeliveryReport, Outbox, PendingMessage } from '../service_layer/ports';

// Any fixed number: the advisory lock held by the one relay that delivers, which keeps
// per-product order and avoids double sends however many processes run a relay.
const RELAY_LOCK = 7_413_901;
// How long a process that is not the leader waits before asking for the lock again.
const FOLLOWER_RETRY_MS = 1_000;

interface Connection {
  end?(): Promise<void>;
  query(config: string | { text: string; values?: unknown[]; name?: string }): Promise<{
    rows: Record<string, unknown>[];
  }>;
}

interface PoolClient {
  acquireConnection(): Promise<Connection>;
  releaseConnection(connection: Connection): Promise<void>;
}

// Due messages, oldest first, skipping any whose (key, type, handler) has an earlier message
// still backing off: those wait, to keep their order, without filling the batch.
const PENDING = {
  name: 'outbox_pending',
  text: `SELECT o.id, o.key, o.type, o.handler, o.payload, o.attempts, o.correlation_id
         FROM outbox o
         WHERE o.delivered_at IS NULL AND o.next_attempt_at <= now()
           AND NOT EXISTS (
             SELECT 1 FROM outbox w
             WHERE w.delivered_at IS NULL AND w.key = o.key AND w.type = o.type
               AND w.handler = o.handler AND w.id < o.id AND w.next_attempt_at > now())
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

/**
 * The outbox table. One relay at a time delivers: the leader, which holds a session advisory
 * lock on a connection it keeps while there is work. Under load a drain is then one select and
 * one update, with no transaction around them; if the leader dies, its connection closes, the
 * lock goes with it, and another process's relay takes over.
 */
export class KnexOutbox implements Outbox {
  private leader: Connection | undefined;
  private retryLeadAt = 0;

  constructor(private readonly db: Knex) {}

  async deliverPending(
    limit: number,
    deliver: (messages: PendingMessage[]) => Promise<DeliveryReport>,
  ): Promise<number> {
    const connection = await this.leadership();
    if (!connection) return 0;
    try {
      const { rows } = await connection.query({ ...PENDING, values: [limit] });
      if (rows.length === 0) {
        // Lead only while there is work: an idle leader steps down, so whichever process has
        // messages next (another replica, a restarted one) can deliver them at once.
        await this.resign();
        return 0;
      }
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
      return rows.length;
    } catch (error) {
      // Most likely the connection broke: give up the lead (and the lock with the connection).
      await this.resign();
      throw error;
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

  /** Releases the lead, so another process's relay can take over at once. */
  async close(): Promise<void> {
    await this.resign();
  }

  private async leadership(): Promise<Connection | undefined> {
    if (this.leader) return this.leader;
    if (Date.now() < this.retryLeadAt) return undefined;
    const client = this.db.client as PoolClient;
    const connection = await client.acquireConnection();
    let locked = false;
    try {
      const { rows } = await connection.query(
        `SELECT pg_try_advisory_lock(${RELAY_LOCK}) AS locked`,
      );
      locked = rows[0].locked === true;
    } finally {
      if (!locked) await client.releaseConnection(connection);
    }
    if (!locked) {
      this.retryLeadAt = Date.now() + FOLLOWER_RETRY_MS;
      return undefined;
    }
    this.leader = connection;
    return connection;
  }

  /**
   * Unlocks before the connection goes back to the pool. If the unlock fails, the connection is
   * closed instead, so the lock can never stay behind on a pooled connection.
   */
  private async resign(): Promise<void> {
    const connection = this.leader;
    this.leader = undefined;
    if (!connection) return;
    const unlocked = await connection
      .query(`SELECT pg_advisory_unlock(${RELAY_LOCK}) AS unlocked`)
      .then(({ rows }) => rows[0]?.unlocked === true)
      .catch(() => false);
    if (!unlocked) await connection.end?.().catch(() => undefined);
    await (this.db.client as PoolClient).releaseConnection(connection);
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
  };
}
