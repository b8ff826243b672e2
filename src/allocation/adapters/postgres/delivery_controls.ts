import type { Knex } from 'knex';
import type {
  Backlog,
  ControlState,
  DeliveryControls,
  DeliveryHandler,
} from '../../service_layer/deliveries';

/**
 * How long a process trusts what it read of the pauses: every relay drain and consumer poll
 * asks, so without a cache each would cost a query; with it a pause reaches every process
 * within this (and this process at once: its own writes clear the cache).
 */
const PAUSES_CACHED_MS = 500;

/** The delivery_controls table: pauses set by operators, circuits reported by the relay. */
export class KnexDeliveryControls implements DeliveryControls {
  private cached: { at: number; state: Promise<ControlState> } | undefined;
  /** While the database cannot be read, the last state it told (a pause must hold meanwhile). */
  private lastKnown: ControlState = { paused: new Set(), openCircuits: new Set(), readAt: 0 };

  constructor(private readonly db: Knex) {}

  state(): Promise<ControlState> {
    const now = Date.now();
    if (this.cached && now - this.cached.at < PAUSES_CACHED_MS) return this.cached.state;
    const state = this.db('delivery_controls')
      .select('handler', 'paused_at', 'circuit_open_since')
      .then(
        (rows: { handler: string; paused_at: Date | null; circuit_open_since: Date | null }[]) => {
          const which = (set: (r: (typeof rows)[number]) => unknown) =>
            new Set(rows.filter(set).map((r) => r.handler));
          return (this.lastKnown = {
            paused: which((r) => r.paused_at),
            openCircuits: which((r) => r.circuit_open_since),
            readAt: now,
          });
        },
      )
      .catch(() => this.lastKnown);
    this.cached = { at: now, state };
    return state;
  }

  async paused(): Promise<ReadonlySet<string>> {
    return (await this.state()).paused;
  }

  async openCircuits(): Promise<ReadonlySet<string>> {
    return (await this.state()).openCircuits;
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
    this.cached = undefined;
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
