import type { Knex } from 'knex';
import type {
  DeadLetter,
  DeadLetterStore,
  StoredDeadLetter,
} from '../../service_layer/dead_letters';

export type { DeadLetter } from '../../service_layer/dead_letters';

/** Lists cut payloads to this many characters; GET /dead_letters/:id has the whole one. */
export const LISTED_PAYLOAD_CHARS = 4096;

const COLUMNS = ['id', 'source', 'payload', 'reason', 'attempts', 'created_at', 'replayed_at'];

/** PostgreSQL text cannot hold NUL: a poison message may, so it is stored escaped as \u0000. */
function storable(text: string): string {
  return text.replaceAll('\u0000', '\\u0000');
}

/** Dead letters in PostgreSQL; a discarded one stays (hidden) until retention prunes it. */
export class DeadLetters implements DeadLetterStore {
  constructor(private readonly db: Knex) {}

  async add(source: string, payload: string, reason: string): Promise<string> {
    const [row] = await this.db('dead_letters')
      .insert({ source, payload: storable(payload), reason: storable(reason) })
      .returning<{ id: string }[]>('id');
    return String(row.id);
  }

  async list(limit = 100, source?: string): Promise<DeadLetter[]> {
    const query = this.db('dead_letters')
      .select(COLUMNS.filter((c) => c !== 'payload'))
      .select(this.db.raw('left(payload, ?) AS payload', [LISTED_PAYLOAD_CHARS]))
      .whereNull('deleted_at')
      .orderBy('id', 'desc')
      .limit(limit);
    if (source !== undefined) query.where({ source });
    return (await query) as DeadLetter[];
  }

  async get(id: string): Promise<StoredDeadLetter | undefined> {
    if (!/^\d{1,18}$/.test(id)) return undefined; // not an id we could have given: unknown
    const row = (await this.db('dead_letters')
      .first([...COLUMNS, 'outbox_type'])
      .where({ id })
      .whereNull('deleted_at')) as (DeadLetter & { outbox_type: string | null }) | undefined;
    if (!row) return undefined;
    const { outbox_type, ...letter } = row;
    return { ...letter, outbound: outbox_type !== null };
  }

  async markReplayed(id: string): Promise<boolean> {
    const updated = await this.db('dead_letters')
      .update({ replayed_at: this.db.fn.now() })
      .where({ id })
      .whereNull('replayed_at');
    return updated > 0;
  }

  async requeue(id: string): Promise<boolean> {
    return this.db.transaction(async (trx) => {
      const [letter] = await trx('dead_letters')
        .update({ replayed_at: trx.fn.now() })
        .where({ id })
        .whereNull('replayed_at')
        .whereNotNull('outbox_type')
        .returning([
          'payload',
          'outbox_key',
          'outbox_type',
          'outbox_handler',
          'correlation_id',
          'traceparent',
        ]);
      if (!letter) return false;
      await trx('outbox').insert({
        key: letter.outbox_key,
        type: letter.outbox_type,
        handler: letter.outbox_handler,
        payload: trx.raw('?::jsonb', [letter.payload]),
        correlation_id: letter.correlation_id,
        traceparent: letter.traceparent,
        // what its handler commits (a re-allocation) tells of this replay in its history
        cause: JSON.stringify({ kind: 'replay', id }),
      });
      return true;
    });
  }

  /** Open dead letters by source, from the counts a trigger keeps (one row per source). */
  async openBySource(): Promise<Record<string, number>> {
    const rows = await this.db('dead_letter_counts').select<{ source: string; open: string }[]>(
      'source',
      'open',
    );
    return Object.fromEntries(rows.map((row) => [row.source, Number(row.open)]));
  }

  async discard(id: string): Promise<boolean> {
    if (!/^\d{1,18}$/.test(id)) return false;
    const updated = await this.db('dead_letters')
      .update({ deleted_at: this.db.fn.now() })
      .where({ id })
      .whereNull('deleted_at');
    return updated > 0;
  }
}
