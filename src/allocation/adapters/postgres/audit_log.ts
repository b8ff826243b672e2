import type { Knex } from 'knex';
import type { AuditEntry, AuditLog } from '../../service_layer/audit';

/** The audit in PostgreSQL (table audit_log), pruned after AUDIT_RETENTION (retention.ts). */
export class KnexAuditLog implements AuditLog {
  constructor(private readonly db: Knex) {}

  async record(entry: Omit<AuditEntry, 'at'>): Promise<void> {
    // NUL cannot be stored in text, and a target may echo what an operator typed
    const clean = (text: string) => text.replaceAll('\u0000', '\\u0000');
    await this.db('audit_log').insert({
      actor: entry.actor,
      action: clean(entry.action),
      target: clean(entry.target),
      result: clean(entry.result),
    });
  }

  async recent(limit: number): Promise<AuditEntry[]> {
    return (await this.db('audit_log')
      .select(['at', 'actor', 'action', 'target', 'result'])
      .orderBy('id', 'desc')
      .limit(limit)) as AuditEntry[];
  }
}
