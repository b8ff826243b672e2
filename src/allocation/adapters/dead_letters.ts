import type { Knex } from 'knex';

export interface DeadLetter {
  id: string;
  source: string;
  payload: string;
  reason: string;
  created_at: Date;
}

/** Inbound messages set aside with the reason, where an operator can list them. */
export class DeadLetters {
  constructor(private readonly db: Knex) {}

  async add(source: string, payload: string, reason: string): Promise<void> {
    await this.db('dead_letters').insert({ source, payload, reason });
  }

  async list(limit = 100): Promise<DeadLetter[]> {
    return this.db('dead_letters').select('*').orderBy('id', 'desc').limit(limit);
  }
}
