// One drain of the outbox by the relay's leader (knex_outbox.ts holds the lease): one select
// of the due rows, the delivery, then its record, fenced: written only while the lease is still
// ours. When everything went out, the record is one statement that checks the lease itself;
// otherwise one statement per outcome (delivered, failed, dead) in a transaction that first
// checks the lease. No connection is held while the messages are delivered. knex's public API
// only: a drain runs a few statements per batch of messages, so preparing them would save little.
import type { Knex } from 'knex';
import { eventFromStorage } from '../../domain/events';
import type { Cause } from '../../service_layer/history';
import type { DeliveryReport, PendingMessage } from '../../service_layer/ports';
import type { RelayLease } from './relay_lease';

type Rows = { rows: Record<string, unknown>[] };

// Due messages, oldest first, skipping any whose (key, type, handler) has an earlier message
// still backing off: those wait, to keep their order, without filling the batch. The backing-off
// ones are found first (few, and at most one scan of the undelivered rows): a per-row NOT EXISTS
// probe was quadratic in a product's backlog and timed out at 40,000 rows (a 20,000-line change).
// Handlers in the second binding (paused, or behind an open circuit) are left out: they wait
// without filling the batch.
const PENDING = `WITH blocked AS (
           SELECT key, type, handler, min(id) AS first_id FROM outbox
           WHERE delivered_at IS NULL AND next_attempt_at > now()
           GROUP BY key, type, handler)
         SELECT o.id, o.key, o.type, o.handler, o.payload, o.attempts, o.correlation_id,
                (extract(epoch FROM o.created_at) * 1000)::float8 AS created_ms, o.traceparent,
                o.cause
         FROM outbox o
         LEFT JOIN blocked b ON b.key = o.key AND b.type = o.type AND b.handler = o.handler
         WHERE o.delivered_at IS NULL AND o.next_attempt_at <= now()
           AND (b.first_id IS NULL OR o.id < b.first_id)
           AND NOT (o.handler = ANY(?::text[]))
         ORDER BY o.id LIMIT ?`;
// The fence: the report is recorded only while the lease is ours and running. FOR SHARE holds
// the lease row until the commit, so a relay taking the lease over meanwhile waits for it, and
// its first select sees these updates: no row is recorded by a relay that is no longer leader.
const LEASE_HELD = `SELECT now() AS now FROM relay_leases
         WHERE name = ? AND holder = ? AND expires_at > now() FOR SHARE`;
// Each row returns its commit-to-delivery delay, on the database's clock: created_at is the
// writing transaction's now(), delivered_at this one's, so every process's figures agree. As
// arithmetic on the two columns (Citus refuses STABLE functions such as now() beside columns in
// an UPDATE), and as a number: parsing two dates a row was 5 % of a drain's CPU.
const SECONDS_TO_DELIVERY = 'extract(epoch FROM delivered_at - created_at)::float8 AS seconds';
const DELIVERED = `UPDATE outbox SET delivered_at = now()
         WHERE key = ANY(?::text[]) AND id = ANY(?::bigint[])
         RETURNING handler, ${SECONDS_TO_DELIVERY}`;
// The common report (everything delivered) as ONE statement: the fence and the update, in the
// statement's own transaction. The lease row is locked FOR SHARE before any outbox row is
// touched (the EXISTS is a one-time filter), and held until the statement commits, as the
// transaction below holds it. Nothing updated means the lease was not ours. At one client a
// drain carries one or two messages, and BEGIN, the fence and COMMIT were three of its five
// database round trips: spread c1, 4 alternating pairs on a noisy day, service CPU per
// allocation 3.72 / 2.46 / 1.94 / 2.16 -> 2.25 / 1.55 / 1.38 / 2.45 ms (medians 2.31 -> 1.90).
const DELIVERED_IF_LEADING = `WITH lease AS (
           SELECT 1 FROM relay_leases
           WHERE name = ? AND holder = ? AND expires_at > now() FOR SHARE)
         UPDATE outbox SET delivered_at = now()
         WHERE key = ANY(?::text[]) AND id = ANY(?::bigint[]) AND EXISTS (SELECT 1 FROM lease)
         RETURNING handler, ${SECONDS_TO_DELIVERY}`;
// The retry times come computed (from the database's clock, read by the fence): Citus refuses
// an UPDATE whose values combine a STABLE function (now(), timestamptz + interval) with columns.
const FAILED = `UPDATE outbox o SET attempts = o.attempts + 1, last_error = f.error, next_attempt_at = f.at
         FROM unnest(?::bigint[], ?::text[], ?::timestamptz[]) AS f (id, error, at)
         WHERE o.key = ANY(?::text[]) AND o.id = f.id`;

// Moves messages the relay gave up on to the dead letters, in one statement, with what a replay
// needs to put them back as they were (key, type, handler, correlation id; id and created_at,
// which are the message's message_id and occurred_at). The source names the handler
// (outbox:email, outbox:line_allocated, ...).
const DEAD = `WITH dead AS (
           DELETE FROM outbox o USING unnest(?::bigint[], ?::text[]) AS f (id, error)
           WHERE o.key = ANY(?::text[]) AND o.id = f.id
           RETURNING o.key, o.type, o.handler, o.payload, o.attempts, o.correlation_id,
             o.traceparent, f.error, o.id AS outbox_id, o.created_at AS occurred_at)
         INSERT INTO dead_letters (source, payload, reason, attempts,
           outbox_key, outbox_type, outbox_handler, correlation_id, traceparent,
           outbox_id, occurred_at)
         SELECT 'outbox:' || handler, payload::text, error, attempts + 1,
           key, type, handler, correlation_id, traceparent, outbox_id, occurred_at
         FROM dead`;

/** Told, once recorded, of each message delivered: its handler and its commit-to-delivery delay. */
export type OnDelivered = (handler: string, seconds: number) => void;

/** How long a message of a type this version does not know waits before it is read again. */
const UNKNOWN_TYPE_RETRY_MS = 60_000;

/**
 * Hands the due messages to `deliver` and records its report, unless the lease was lost
 * meanwhile (then `lease` is told, and the messages stay due); the number of rows read.
 */
export async function drainOutbox(
  db: Knex,
  limit: number,
  lease: RelayLease,
  deliver: (messages: PendingMessage[]) => Promise<DeliveryReport>,
  onDelivered: OnDelivered = () => undefined,
  skip: readonly string[] = [],
): Promise<number> {
  const { rows } = await db.raw<Rows>(PENDING, [[...skip], limit]);
  if (rows.length === 0) return 0;
  // A type this version does not know (written by a newer one, mid-deploy) is put out of the
  // way for a while, as a failed delivery: left due, a batch of them at the head of the
  // outbox was read again by every drain and nothing behind it was ever delivered.
  const unreadable: DeliveryReport['failed'] = [];
  const readable = rows.flatMap((row) => {
    try {
      return [toPending(row)];
    } catch (error) {
      const reason = `Not delivered by this version: ${(error as Error).message}`;
      unreadable.push({ id: String(row.id), error: reason, retryInMs: UNKNOWN_TYPE_RETRY_MS });
      return [];
    }
  });
  const delivery = await deliver(readable);
  const report = { ...delivery, failed: [...delivery.failed, ...unreadable] };
  if (report.delivered.length + report.failed.length + report.dead.length === 0) {
    return rows.length;
  }
  if (report.failed.length + report.dead.length === 0) {
    return recordDelivered(db, report.delivered, rows, lease, onDelivered).then(() => rows.length);
  }
  // (the transaction's own promise: it rejects when COMMIT fails, knex#3847)
  await db.transaction(async (trx) => {
    const held = await trx.raw<Rows>(LEASE_HELD, [lease.name, lease.holder]);
    if (held.rows.length === 0) return lease.lost();
    await record(trx, report, rows, held.rows[0].now as Date, onDelivered);
  });
  return rows.length;
}

/** Marks `delivered` as delivered, if the lease is still ours; tells `lease` when it is not. */
async function recordDelivered(
  db: Knex,
  delivered: string[],
  rows: Record<string, unknown>[],
  lease: RelayLease,
  onDelivered: OnDelivered,
): Promise<void> {
  const keys = keysOf(rows, delivered);
  const marked = await db.raw<Rows>(DELIVERED_IF_LEADING, [
    lease.name,
    lease.holder,
    keys,
    delivered,
  ]);
  if (marked.rows.length === 0) return lease.lost();
  tellDelivered(marked.rows, onDelivered);
}

/** The distinct keys of the rows of `ids` (see record). */
function keysOf(rows: Record<string, unknown>[], ids: string[]): string[] {
  const keyOf = new Map(rows.map((row) => [String(row.id), String(row.key)]));
  return [...new Set(ids.map((id) => keyOf.get(id) as string))];
}

function tellDelivered(marked: Record<string, unknown>[], onDelivered: OnDelivered): void {
  for (const row of marked) onDelivered(String(row.handler), Number(row.seconds));
}

/**
 * One statement per outcome: delivered, failed (with its backoff), dead (to dead letters). Each
 * names its rows' keys as well as their ids: on Citus (the outbox distributed by key) it then
 * goes to the shards of those keys only, not to every shard.
 */
async function record(
  trx: Knex.Transaction,
  report: DeliveryReport,
  rows: Record<string, unknown>[],
  now: Date,
  onDelivered: OnDelivered,
): Promise<void> {
  const keys = (ids: string[]) => keysOf(rows, ids);
  if (report.delivered.length > 0) {
    const delivered = report.delivered;
    const marked = await trx.raw<Rows>(DELIVERED, [keys(delivered), delivered]);
    tellDelivered(marked.rows, onDelivered);
  }
  if (report.failed.length > 0) {
    const failed = report.failed;
    await trx.raw(FAILED, [
      failed.map((f) => f.id),
      failed.map((f) => f.error.slice(0, 2000)),
      failed.map((f) => new Date(now.getTime() + f.retryInMs)),
      keys(failed.map((f) => f.id)),
    ]);
  }
  if (report.dead.length > 0) {
    const dead = report.dead;
    await trx.raw(DEAD, [
      dead.map((d) => d.id),
      dead.map((d) => d.error.slice(0, 2000)),
      keys(dead.map((d) => d.id)),
    ]);
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
    occurredAt: new Date(row.created_ms as number),
    traceparent: (row.traceparent as string | null) ?? null,
    cause: (row.cause as Cause | null) ?? null,
  };
}
