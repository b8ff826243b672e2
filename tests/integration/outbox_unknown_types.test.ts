// A message of a type this version does not know (written by a newer version during a rolling
// deploy) must not hold up the outbox: it is put aside for a while, as a failed delivery, and
// the messages behind it are delivered.
import { expect } from 'chai';
import { KnexOutbox } from '../../src/allocation/adapters/postgres/knex_outbox';
import type { PendingMessage } from '../../src/allocation/service_layer/ports';
import { testDb } from '../support/db';
import { eventually } from '../support/eventually';
import { randomOrderid, randomSku } from '../support/random_refs';

const BATCH = 50;

describe('outbox: a type this version does not know', () => {
  it('is put aside with its reason, and the messages behind it are delivered', async function () {
    this.timeout(30_000);
    const db = await testDb();
    const [future, known] = [randomSku('future'), randomSku('known')];
    // more unknown messages than one drain reads, all older than the known ones
    await db('outbox').insert(
      Array.from({ length: BATCH + 10 }, (_, i) => ({
        key: future,
        type: 'FutureEvent',
        handler: 'line_allocated',
        payload: JSON.stringify({ n: i }),
      })),
    );
    await db('outbox').insert(
      Array.from({ length: 5 }, () => ({
        key: known,
        type: 'Allocated',
        handler: 'line_allocated',
        payload: JSON.stringify({ orderid: randomOrderid(), sku: known, qty: 1, batchref: 'b' }),
      })),
    );
    const outbox = new KnexOutbox(db, 2_000);
    const delivered: PendingMessage[] = [];

    try {
      await eventually(async () => {
        await outbox.deliverPending(BATCH, async (messages) => {
          delivered.push(...messages);
          return { delivered: messages.map((m) => m.id), failed: [], dead: [] };
        });
        expect(delivered.filter((m) => m.key === known)).to.have.length(5);
      }, 20_000);
    } finally {
      await outbox.close();
    }

    expect(delivered.filter((m) => m.key === future)).to.deep.equal([]);
    const rows = await db('outbox')
      .where({ key: future })
      .orderBy('id')
      .select(
        'id',
        'attempts',
        'last_error',
        'delivered_at',
        db.raw('next_attempt_at > now() AS later'),
      );
    expect(rows).to.have.length(BATCH + 10);
    expect(rows.every((row) => row.delivered_at === null)).to.equal(true);
    // the ones read were put aside with the reason; the rest wait behind them, in order
    const setAside = rows.filter((row) => row.attempts === 1);
    expect(setAside).to.not.be.empty;
    expect(rows.slice(0, setAside.length)).to.deep.equal(setAside);
    for (const row of setAside) {
      expect(row.later).to.equal(true);
      expect(row.last_error).to.match(/Unknown event type FutureEvent/);
    }
    expect(rows.slice(setAside.length).every((row) => row.attempts === 0)).to.equal(true);
    await db('outbox').where({ key: future }).delete();
  });
});
