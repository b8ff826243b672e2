import type { Knex } from 'knex';

/**
 * Puts outbound dead letters back in the outbox as the messages they were: the same outbox id
 * (their message_id) and created_at (their occurred_at), so a consumer that dedupes by id sees
 * the same message, not a new one. The relay deleted those rows when it gave up on them, so the
 * ids are free. A dead letter from before 20261207130000 kept neither: it gets a new row. One
 * transaction: replayed_at is set if and only if the message is back. The ids requeued.
 */
export async function requeueDeadLetters(db: Knex, ids: string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  return db.transaction(async (trx) => {
    const letters = await trx('dead_letters')
      .update({ replayed_at: trx.fn.now(), claimed_until: null })
      .whereIn('id', ids)
      .whereNull('replayed_at')
      .whereNull('deleted_at')
      .whereNotNull('outbox_type')
      .returning<Record<string, string | null>[]>([
        'id',
        'payload',
        'outbox_id',
        'occurred_at',
        'outbox_key',
        'outbox_type',
        'outbox_handler',
        'correlation_id',
        'traceparent',
      ]);
    if (letters.length === 0) return [];
    await trx('outbox').insert(
      letters.map((letter) => ({
        id: letter.outbox_id ?? undefined,
        created_at: letter.occurred_at ?? undefined,
        key: letter.outbox_key,
        type: letter.outbox_type,
        handler: letter.outbox_handler,
        payload: trx.raw('?::jsonb', [letter.payload]),
        correlation_id: letter.correlation_id,
        traceparent: letter.traceparent,
        // what its handler commits (a re-allocation) tells of this replay in its history
        cause: JSON.stringify({ kind: 'replay', id: String(letter.id) }),
      })),
    );
    return letters.map((letter) => String(letter.id));
  });
}
