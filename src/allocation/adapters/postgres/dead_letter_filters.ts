// The SQL side of a dead-letter filter, and the bulk statements that use it (claim, discard):
// each touches at most one batch of rows, in one short statement.
import type { Knex } from 'knex';
import type { DeadLetterFilter } from '../../service_layer/dead_letters';

/** Not replayed, not discarded. */
export function whereOpen(query: Knex.QueryBuilder): Knex.QueryBuilder {
  return query.whereNull('replayed_at').whereNull('deleted_at');
}

/** Not being replayed by a bulk action right now (a claim lapses after CLAIM_MINUTES). */
function whereUnclaimed(query: Knex.QueryBuilder): Knex.QueryBuilder {
  return query.whereRaw('(claimed_until IS NULL OR claimed_until < now())');
}

/**
 * Every field given must match. `reason` is a prefix of the reason as stored or of its
 * normalised form (so `UnknownBatch: Unknown batch *` matches a whole group); starts_with, not
 * LIKE: a `%` or `_` in the prefix means itself.
 */
export function whereMatching(
  query: Knex.QueryBuilder,
  filter: DeadLetterFilter,
): Knex.QueryBuilder {
  if (filter.source !== undefined) query.where('source', filter.source);
  if (filter.reason !== undefined && filter.reason !== '') {
    const prefix = filter.reason;
    query.whereRaw('(starts_with(reason, ?) OR starts_with(reason_group, ?))', [prefix, prefix]);
  }
  if (filter.group !== undefined) query.where('reason_group', filter.group);
  if (filter.ids !== undefined) query.whereIn('id', filter.ids);
  return query;
}

// Long enough for a batch of replays on a slow day; short enough that a crashed replay's
// letters are back soon.
const CLAIM_MINUTES = 10;

/** The ids of one batch of open, unclaimed, matching letters up to `upTo`, locked, skipping locked ones. */
function batchIds(
  db: Knex,
  filter: DeadLetterFilter,
  range: { after?: string; upTo: string },
  limit: number,
): Knex.QueryBuilder {
  const query = db('dead_letters').select('id').where('id', '<=', range.upTo);
  if (range.after !== undefined) query.where('id', '>', range.after);
  whereUnclaimed(whereOpen(whereMatching(query, filter)));
  return query.orderBy('id').limit(limit).forUpdate().skipLocked();
}

export async function claimBatch(
  db: Knex,
  filter: DeadLetterFilter,
  range: { after?: string; upTo: string },
  limit: number,
  columns: string[],
): Promise<Record<string, unknown>[]> {
  const rows = await db('dead_letters')
    .update({ claimed_until: db.raw(`now() + interval '${CLAIM_MINUTES} minutes'`) })
    .whereIn('id', batchIds(db, filter, range, limit))
    .returning<Record<string, unknown>[]>(columns);
  // RETURNING has no order: oldest first, as claimed
  return rows.sort((a, b) => (BigInt(String(a.id)) < BigInt(String(b.id)) ? -1 : 1));
}

export async function discardBatch(
  db: Knex,
  filter: DeadLetterFilter,
  upTo: string,
  limit: number,
): Promise<number> {
  return db('dead_letters')
    .update({ deleted_at: db.fn.now(), claimed_until: null })
    .whereIn('id', batchIds(db, filter, { upTo }, limit));
}
