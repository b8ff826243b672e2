// The tables every allocation writes are vacuumed and analysed after a fixed number of changes,
// not a fraction of their size (migrations/20261207150000_autovacuum_high_churn_tables.ts).
import { expect } from 'chai';
import { testDb } from '../support/db';

describe('autovacuum of the high-churn tables', () => {
  it('the outbox and the write side carry per-table autovacuum settings', async () => {
    const db = await testDb();
    const { rows } = await db.raw<{ rows: { relname: string; reloptions: string[] | null }[] }>(
      `SELECT relname, reloptions FROM pg_class
       WHERE relname IN ('outbox', 'products', 'batches', 'allocations_view', 'processed_messages')
         AND relkind IN ('r', 'p')`,
    );
    const options = new Map(rows.map((r) => [r.relname, r.reloptions ?? []]));
    expect([...options.keys()]).to.have.members([
      'outbox',
      'products',
      'batches',
      'allocations_view',
      'processed_messages',
    ]);
    for (const [table, list] of options) {
      expect(list, table).to.include('autovacuum_vacuum_scale_factor=0');
      expect(list, table).to.include('autovacuum_vacuum_threshold=1000');
    }
    expect(options.get('products')).to.include('fillfactor=50');
  });
});
