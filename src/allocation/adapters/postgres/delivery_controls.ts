import type { Knex } from 'knex';
import type { Backlog, DeliveryControls, DeliveryHandler } from '../../service_layer/deliveries';

/**
 * How long a process trusts what it read of the pauses: every relay drain and consumer poll
 * asks, so without a cache each would cost a query; with it a pause reaches every process
 * within this (and this process at once: its own writes clear the cache).
 */
const PAUSES_CACHED_MS = 500;

/** The delivery_controls table: pauses set by operators, circuits reported by the relay. */
export class KnexDeliveryControls implements DeliveryControls {
  private cached: { at: number; paused: Promise<ReadonlySet<string>> } | undefined;
  /** While the database cannot be read, the last pauses it told (a pause must hold meanwhile). */
  private lastKnown: ReadonlySet<string> = new Set();

  constructor(private readonly db: Knex) {}

  paused(): Promise<ReadonlySet<string>> {
    const now = Date.now();
    if (this.cached && now - this.cached.at < PAUSES_CACHED_MS) return this.cached.paused;
    const paused = this.db('delivery_controls')
      .whereNotNull('paused_at')
      .pluck('handler')
      .then((handlers: string[]) => (this.lastKnown = new Set(handlers)))
      .catch(() => this.lastKnown);
    this.cached = { at: now, paused };
    return paused;
  }

  async setPaused(handler: DeliveryHandler, paused: boolean): Promise<void> {
    // A second pause keeps the first one's time: it tells how long the handler has been paused.
    await this.db('delivery_controls')
      .where({ handler })
      .update({ paused_at: paused ? this.db.raw('coalesce(paused_at, now())') : null });
    this.cached = undefined;
  }

  async circuitChanged(handler: string, open: boolean): Promise<void> {
    await this.db('delivery_controls')
      .where({ handler })
      .update({
        circuit_open_since: open ? this.db.raw('coalesce(circuit_open_since, now())') : null,
      });
  }

  async openCircuits(): Promise<ReadonlySet<string>> {
    const handlers: string[] = await this.db('delivery_controls')
      .whereNotNull('circuit_open_since')
      .pluck('handler');
    return new Set(handlers);
  }
}

/** Undelivered outbox messages per handler, and the age of each one's oldest. */
export async function outboxBacklogByHandler(db: Knex): Promise<Map<string, Backlog>> {
  const rows: { handler: string; count: number; age: number }[] = await db('outbox')
    .whereNull('delivered_at')
    .groupBy('handler')
    .select(
      'handler',
      db.raw('count(*)::int AS count'),
      db.raw('extract(epoch FROM now() - min(created_at))::float AS age'),
    );
  return new Map(rows.map((r) => [r.handler, { count: r.count, oldestAgeSeconds: r.age }]));
}
