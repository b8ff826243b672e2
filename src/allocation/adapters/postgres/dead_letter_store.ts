import type { Knex } from 'knex';
import type {
  DeadLetter,
  DeadLetterFilter,
  DeadLetterGroup,
  DeadLetterStore,
  StoredDeadLetter,
} from '../../service_layer/dead_letters';
import { claimBatch, discardBatch, whereMatching, whereOpen } from './dead_letter_filters';
import { requeueDeadLetters } from './dead_letter_requeue';

export type { DeadLetter } from '../../service_layer/dead_letters';

/** Lists cut payloads to this many characters; GET /dead_letters/:id has the whole one. */
export const LISTED_PAYLOAD_CHARS = 4096;

const COLUMNS = ['id', 'source', 'payload', 'reason', 'attempts', 'created_at', 'replayed_at'];
const STORED_COLUMNS = [...COLUMNS, 'outbox_type', 'position'];

/** PostgreSQL text cannot hold NUL: a poison message may, so it is stored escaped as \u0000. */
function storable(text: string): string {
  return text.replaceAll('\u0000', '\\u0000');
}

function stored(row: Record<string, unknown>): StoredDeadLetter {
  const { outbox_type, position, ...letter } = row;
  return {
    ...(letter as unknown as DeadLetter),
    id: String(row.id),
    outbound: outbox_type !== null,
    position: (position as string | null) ?? null,
  };
}

/** Dead letters in PostgreSQL; a discarded one stays (hidden) until retention prunes it. */
export class DeadLetters implements DeadLetterStore {
  constructor(private readonly db: Knex) {}

  async add(
    source: string,
    payload: string,
    reason: string,
    position?: string | null,
  ): Promise<string> {
    const [row] = await this.db('dead_letters')
      .insert({ source, payload: storable(payload), reason: storable(reason), position })
      .returning<{ id: string }[]>('id');
    return String(row.id);
  }

  async list(limit = 100, source?: string): Promise<DeadLetter[]> {
    return (await this.page(limit, source === undefined ? {} : { source })).letters;
  }

  async page(
    limit: number,
    filter: DeadLetterFilter = {},
    before?: string,
  ): Promise<{ letters: DeadLetter[]; more: boolean }> {
    const query = this.db('dead_letters')
      .select(COLUMNS.filter((c) => c !== 'payload'))
      .select(this.db.raw('left(payload, ?) AS payload', [LISTED_PAYLOAD_CHARS]))
      .whereNull('deleted_at')
      .orderBy('id', 'desc')
      .limit(limit + 1); // one more: is there a next page?
    if (before !== undefined) query.where('id', '<', before);
    const rows = (await whereMatching(query, filter)) as DeadLetter[];
    return { letters: rows.slice(0, limit), more: rows.length > limit };
  }

  async groups(): Promise<DeadLetterGroup[]> {
    const query = this.db('dead_letters')
      .select('source', 'reason_group AS reason')
      .select(this.db.raw('count(*)::int AS count'))
      .select(this.db.raw('min(created_at) AS first_at, max(created_at) AS last_at'))
      .groupBy('source', 'reason_group')
      .orderBy([{ column: 'count', order: 'desc' }, 'source', 'reason'])
      .limit(1000);
    return (await whereOpen(query)) as DeadLetterGroup[];
  }

  async get(id: string): Promise<StoredDeadLetter | undefined> {
    if (!isId(id)) return undefined; // not an id we could have given: unknown
    const row = (await this.db('dead_letters')
      .first(STORED_COLUMNS)
      .where({ id })
      .whereNull('deleted_at')) as Record<string, unknown> | undefined;
    return row ? stored(row) : undefined;
  }

  async markReplayed(ids: string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const rows = await this.db('dead_letters')
      .update({ replayed_at: this.db.fn.now(), claimed_until: null })
      .whereIn('id', ids)
      .whereNull('replayed_at')
      .returning<{ id: string }[]>('id');
    return rows.map((row) => String(row.id));
  }

  requeue(ids: string[]): Promise<string[]> {
    return requeueDeadLetters(this.db, ids);
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
    if (!isId(id)) return false;
    const updated = await this.db('dead_letters')
      .update({ deleted_at: this.db.fn.now(), claimed_until: null })
      .where({ id })
      .whereNull('deleted_at');
    return updated > 0;
  }

  async lastId(): Promise<string | undefined> {
    const row = (await this.db('dead_letters').max('id AS id').first()) as { id: string | null };
    return row.id === null ? undefined : String(row.id);
  }

  async claim(
    filter: DeadLetterFilter,
    after: string | undefined,
    upTo: string,
    limit: number,
  ): Promise<StoredDeadLetter[]> {
    const rows = await claimBatch(this.db, filter, { after, upTo }, limit, STORED_COLUMNS);
    return rows.map(stored);
  }

  async release(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.db('dead_letters').update({ claimed_until: null }).whereIn('id', ids);
  }

  discardBatch(filter: DeadLetterFilter, upTo: string, limit: number): Promise<number> {
    return discardBatch(this.db, filter, upTo, limit);
  }
}

/** A dead letter's id as the API shows it: a bigint's digits. */
export function isId(id: string): boolean {
  return /^\d{1,18}$/.test(id);
}
