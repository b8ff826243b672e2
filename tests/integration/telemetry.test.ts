// The third edition's telemetry on a real PostgreSQL: open dead letters counted as they are
// written (a trigger), and the commit-to-delivery delay taken from the database's clock.
import { expect } from 'chai';
import { DeadLetters } from '../../src/allocation/adapters/postgres/dead_letter_store';
import { KnexOutbox } from '../../src/allocation/adapters/postgres/knex_outbox';
import { PrometheusMetrics } from '../../src/allocation/adapters/prometheus/metrics';
import {
  firstEntryAgeSeconds,
  groupLagSeconds,
} from '../../src/allocation/entrypoints/redis/inbound_lag';
import { testDb } from '../support/db';
import { testRedis } from '../support/redis';
import { eventually } from '../support/eventually';
import { randomOrderid, randomSku } from '../support/random_refs';

describe('telemetry', () => {
  it('counts open dead letters by source through add, replay, discard and delete', async () => {
    const db = await testDb();
    const letters = new DeadLetters(db);
    const [source, other] = [randomSku('source'), randomSku('other')];
    const ids = await Promise.all([1, 2, 3, 4].map((n) => letters.add(source, `p${n}`, 'bad')));
    await letters.add(other, 'p', 'bad');
    await db('dead_letters').insert([1, 2].map((n) => ({ source, payload: `b${n}`, reason: 'r' })));

    await letters.markReplayed([ids[0]]);
    await letters.markReplayed([ids[0]]); // again: already replayed, no change
    await letters.discard(ids[1]);
    await db('dead_letters').where({ id: ids[2] }).delete(); // still open when deleted
    await db('dead_letters').where({ id: ids[0] }).delete(); // replayed: not counted any more

    const open = await letters.openBySource();
    expect(open[source]).to.equal(3);
    expect(open[other]).to.equal(1);
  });

  it('counts nothing open after a truncate', async () => {
    const db = await testDb();
    const source = randomSku('truncated');
    await new DeadLetters(db).add(source, 'p', 'bad');
    const trx = await db.transaction();
    try {
      await trx.raw('TRUNCATE dead_letters');

      const counts = await trx('dead_letter_counts').where('open', '<>', 0).select('source');

      expect(counts).to.deep.equal([]);
    } finally {
      await trx.rollback(); // the other tests' letters stay
    }
  });

  it('shows open dead letters on /metrics', async () => {
    const db = await testDb();
    const letters = new DeadLetters(db);
    const source = randomSku('scraped');
    await letters.add(source, 'p', 'bad');
    const metrics = new PrometheusMetrics(async () => ({ count: 0, oldestAgeSeconds: 0 }));
    metrics.watchDeadLetters(() => letters.openBySource());

    const text = await metrics.registry.metrics();

    expect(text).to.contain(`allocation_dead_letters_open{source="${source}"} 1`);
  });

  it('measures commit to delivery on the database clock, by handler', async function () {
    this.timeout(30_000);
    const db = await testDb();
    const sku = randomSku('delay');
    const handler = `h_${sku.replaceAll('-', '_')}`;
    // committed "10 s ago" by the database's clock
    await db('outbox').insert({
      key: sku,
      type: 'Allocated',
      handler,
      created_at: db.raw(`now() - interval '10 seconds'`),
      payload: JSON.stringify({ orderid: randomOrderid(), sku, qty: 1, batchref: 'b' }),
    });
    const delays: [string, number][] = [];
    const outbox = new KnexOutbox(db, 2_000, (h, seconds) => delays.push([h, seconds]));

    try {
      await eventually(async () => {
        await outbox.deliverPending(5_000, async (messages) => ({
          delivered: messages.filter((m) => m.key === sku).map((m) => m.id),
          failed: [],
          dead: [],
        }));
        expect(delays.filter(([h]) => h === handler)).to.have.length(1);
      }, 20_000);
    } finally {
      await outbox.close();
    }

    const [[, seconds]] = delays.filter(([h]) => h === handler);
    expect(seconds).to.be.within(10, 20);
  });

  it('ages inbound lag from the oldest stream entry pending or unread, on the Redis clock', async () => {
    const redis = testRedis();
    const stream = randomSku('lag-stream');
    try {
      const [seconds] = await redis.time();
      const at = (secondsAgo: number) => `${(Number(seconds) - secondsAgo) * 1000}-0`;
      await redis.xgroup('CREATE', stream, 'g', '0', 'MKSTREAM');
      expect(await groupLagSeconds(redis, stream, 'g')).to.equal(0);
      await redis.xadd(stream, at(30), 'n', '1');
      await redis.xadd(stream, at(20), 'n', '2');

      const unread = await groupLagSeconds(redis, stream, 'g');
      await redis.xreadgroup('GROUP', 'g', 'c', 'COUNT', 1, 'STREAMS', stream, '>');
      const pending = await groupLagSeconds(redis, stream, 'g');
      await redis.xack(stream, 'g', at(30));
      const next = await groupLagSeconds(redis, stream, 'g');
      await redis.xreadgroup('GROUP', 'g', 'c', 'COUNT', 1, 'STREAMS', stream, '>');
      await redis.xack(stream, 'g', at(20));
      const none = await groupLagSeconds(redis, stream, 'g');

      expect(unread).to.be.within(30, 35);
      expect(pending).to.be.within(30, 35);
      expect(next).to.be.within(20, 25);
      expect(none).to.equal(0);
      expect(await firstEntryAgeSeconds(redis, stream)).to.be.within(30, 35);
      expect(await firstEntryAgeSeconds(redis, randomSku('no-stream'))).to.equal(0);
    } finally {
      await redis.del(stream);
      redis.disconnect();
    }
  });
});
