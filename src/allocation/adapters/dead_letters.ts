import type { Knex } from 'knex';

export interface DeadLetter {
  id: string;
  source: string;
  payload: string;
  reason: string;
  created_at: Date;
}

/** PostgreSQL text cannot hold NUL: a poison message may, so it is stored escaped as \u0000. */
function storable(text: string): string {
  return text.replaceAll('\u0000', '\\u0000');
}

/** Inbound messages set aside with the reason, where an operator can list them. */
export class DeadLetters {
  constructor(private readonly db: Knex) {}

  async add(source: string, payload: string, reason: string): Promise<void> {
    await this.db('dead_letters').insert({
      source,
      payload: storable(payload),
      reason: storable(reason),
    });
  }

  async list(limit = 100): Promise<DeadLetter[]> {
    return this.db('dead_letters').select('*').orderBy('id', 'desc').limit(limit);
  }
}
