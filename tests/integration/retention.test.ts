import { expect } from 'chai';
import type { Knex } from 'knex';
import { Retention } from '../../src/allocation/adapters/postgres/retention';
import { testDb } from '../support/db';
import { randomOrderid, randomSku } from '../support/random_refs';
import { silentLogger } from '../unit/fakes';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const ago = (db: Knex, ms: number) => db.raw(`now() - ? * interval '1 millisecond'`, [ms]);

describe('retention', () => {
  const settings = { outboxMs: DAY, inboxMs: 7 * DAY, deadLetterMs: 30 * DAY, historyMs: 90 * DAY };

  it('prunes rows older than their setting and keeps newer ones', async () => {
    const db = await testDb();
    const key = randomSku('retention');
    const outbox = (deliveredAgo: number | null) => ({
      key,
      type: 'OutOfStock',
      handler: 'email',
      payload: JSON.stringify({ sku: key }),
      delivered_at: deliveredAgo === null ? null : ago(db, deliveredAgo),
    });
    const [oldDelivered, newDelivered, undelivered] = await db('outbox')
      .insert([outbox(DAY + HOUR), outbox(DAY - HOUR), outbox(null)])
      .returning('id');
    const [oldId, newId] = [randomOrderid('old'), randomOrderid('new')];
    await db('processed_messages').insert([
      { message_id: oldId, processed_at: ago(db, 7 * DAY + HOUR) },
      { message_id: newId, processed_at: ago(db, 7 * DAY - HOUR) },
    ]);
    const letter = (fields: object) => ({ source: key, payload: '{}', reason: 'test', ...fields });
    await db('dead_letters').insert([
      letter({ reason: 'old replayed', replayed_at: ago(db, 30 * DAY + HOUR) }),
      letter({ reason: 'old deleted', deleted_at: ago(db, 30 * DAY + HOUR) }),
      letter({ reason: 'new replayed', replayed_at: ago(db, 30 * DAY - HOUR) }),
      letter({ reason: 'old but open', created_at: ago(db, 60 * DAY) }),
    ]);

    const pruned = await new Retention(db, settings, silentLogger).pruneOnce();

    const outboxIds = await db('outbox').where({ key }).pluck('id');
    expect(outboxIds.map(String).sort()).to.deep.equal(
      [newDelivered.id, undelivered.id].map(String).sort(),
    );
    expect(outboxIds.map(String)).to.not.include(String(oldDelivered.id));
    const inbox = await db('processed_messages').whereIn('message_id', [oldId, newId]);
    expect(inbox.map((r: { message_id: string }) => r.message_id)).to.deep.equal([newId]);
    const letters = await db('dead_letters').where({ source: key }).pluck('reason');
    expect(letters.sort()).to.deep.equal(['new replayed', 'old but open']);
    expect(pruned.outbox).to.be.at.least(1);
    expect(pruned.inbox).to.be.at.least(1);
    expect(pruned.deadLetters).to.be.at.least(2);
  });

  it('prunes history past HISTORY_RETENTION and read-model tombstones older than a day', async () => {
    const db = await testDb();
    const sku = randomSku('retention-history');
    const entry = (type: string, atAgo: number) => ({
      sku,
      type,
      version: 1,
      at: ago(db, atAgo),
    });
    await db('history').insert([entry('old', 90 * DAY + HOUR), entry('new', 90 * DAY - HOUR)]);
    const view = (orderid: string, batchref: string | null, updatedAgo: number) => ({
      orderid,
      sku,
      batchref,
      version: 1,
      updated_at: ago(db, updatedAgo),
    });
    const [oldTombstone, newTombstone, oldLine] = ['a', 'b', 'c'].map((o) => randomOrderid(o));
    await db('allocations_view').insert([
      view(oldTombstone, null, DAY + HOUR),
      view(newTombstone, null, DAY - HOUR),
      view(oldLine, 'batch-1', 30 * DAY),
    ]);

    const pruned = await new Retention(db, settings, silentLogger).pruneOnce();

    expect(await db('history').where({ sku }).pluck('type')).to.deep.equal(['new']);
    const rows = await db('allocations_view').where({ sku }).orderBy('orderid').pluck('orderid');
    expect(rows).to.deep.equal([newTombstone, oldLine].sort());
    expect(pruned.history).to.be.at.least(1);
    expect(pruned.tombstones).to.be.at.least(1);
  });

  it('prunes in batches until nothing old is left', async () => {
    const db = await testDb();
    const prefix = randomOrderid('bulk');
    const ids = Array.from({ length: 2_500 }, (_, i) => `${prefix}-${i}`);
    await db('processed_messages').insert(
      ids.map((message_id) => ({ message_id, processed_at: ago(db, 8 * DAY) })),
    );

    await new Retention(db, settings, silentLogger).pruneOnce();

    const left = await db('processed_messages').whereLike('message_id', `${prefix}-%`).count();
    expect(Number(left[0].count)).to.equal(0);
  });

  it('leaves the work to the process that holds the pruning lock', async () => {
    const db = await testDb();
    const id = randomOrderid('locked');
    await db('processed_messages').insert({ message_id: id, processed_at: ago(db, 8 * DAY) });
    const other = await db.transaction();
    try {
      await other.raw('SELECT pg_advisory_xact_lock(7413902)');

      const pruned = await new Retention(db, settings, silentLogger).pruneOnce();

      expect(pruned).to.deep.equal({
        outbox: 0,
        inbox: 0,
        deadLetters: 0,
        history: 0,
        tombstones: 0,
        audit: 0,
      });
      expect(await db('processed_messages').where({ message_id: id })).to.have.length(1);
    } finally {
      await other.rollback();
    }
  });
});
