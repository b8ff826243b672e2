import type { Knex } from 'knex';
import type { DeliveryReport, Outbox, PendingMessage } from '../../service_layer/ports';
import { drainOutbox, type OnDelivered } from './knex_outbox_drain';
import { RelayLease } from './relay_lease';

/** allocation_outbox_backlog counts this many at most: a bounded read on every scrape. */
export const BACKLOG_COUNTED_UP_TO = 10_000;

// How long a process that is not the leader waits before asking for the lease again.
const FOLLOWER_RETRY_MS = 1_000;

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
 * (adapters/postgres/relay_lease.ts), so per-product order holds and nothing is sent twice in the normal
 * course, however many processes run a relay. Under load a drain (knex_outbox_drain.ts) is one
 * select, then the updates of its report, written only while the lease is ours: it is
 * fenced, so a relay that lost its lease mid-drain records nothing, and stops sending once its
 * lease may have run out by its own clock. The lease is renewed while a drain
 * delivers and given up when one finds nothing to do; if the leader dies, its lease expires and
 * another process's relay takes over.
 */
export class KnexOutbox implements Outbox {
  private readonly lease: RelayLease;
  private retryLeadAt = 0;

  constructor(
    private readonly db: Knex,
    leaseMs = 5_000,
    private readonly onDelivered?: OnDelivered,
  ) {
    this.lease = new RelayLease(db, leaseMs);
  }

  async deliverPending(
    limit: number,
    deliver: (messages: PendingMessage[], stillLeading?: () => boolean) => Promise<DeliveryReport>,
    skip: readonly string[] = [],
    holdLease = false,
  ): Promise<number> {
    if (!(await this.leadership())) return 0;
    const handed = await this.renewingWhile(() =>
      drainOutbox(
        this.db,
        limit,
        this.lease,
        (messages) => deliver(messages, () => this.lease.heldFor(0)),
        this.onDelivered,
        skip,
      ),
    );
    // Lead only while there is work: an idle leader steps down, so whichever process has
    // messages next (another replica, a restarted one) can deliver them at once. Not while a
    // circuit is open (holdLease): its probes stay with one relay, one per interval.
    if (handed === 0 && !holdLease) await this.lease.release();
    return handed;
  }

  /**
   * Read on every scrape of /metrics, so bounded whatever the backlog: counted up to
   * BACKLOG_COUNTED_UP_TO, and the oldest found as the first of the pending index (by id, which
   * follows created_at up to the length of a transaction). At 100,000 undelivered rows the exact
   * count and min(created_at) took 14.6 ms in PostgreSQL, growing with the backlog; these take
   * 1.4 ms and 0.01 ms (bench/scrape_cost.ts, 2026-12-07).
   */
  async backlog(): Promise<{ count: number; oldestAgeSeconds: number }> {
    const pending = () => this.db('outbox').whereNull('delivered_at');
    const [counted, oldest] = await Promise.all([
      this.db
        .from(pending().select(this.db.raw('1')).limit(BACKLOG_COUNTED_UP_TO).as('pending'))
        .first(this.db.raw('count(*)::int AS count')),
      pending()
        .orderBy('id')
        .first(this.db.raw('extract(epoch FROM now() - created_at)::float AS age')),
    ]);
    return { count: counted?.count ?? 0, oldestAgeSeconds: Math.max(0, oldest?.age ?? 0) };
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
