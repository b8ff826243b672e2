// Correct at scale (SPEC section 1): the read model converges across processes and crashes,
// a change that frees 20,000 lines goes through, and a quantity change is never starved by
// allocations from another process. Counts and invariants, never timings.
import { expect } from 'chai';
import { Redis } from 'ioredis';
import type { Knex } from 'knex';
import request from 'supertest';
import { setTimeout as sleep } from 'node:timers/promises';
import { testDb } from '../support/db';
import { eventually } from '../support/eventually';
import { startTestService, type TestService } from '../support/in_process';
import { startServiceProcess, type ServiceProcess } from '../support/processes';
import { randomBatchref, randomOrderid, randomSku } from '../support/random_refs';
import { listen, redisUrl } from '../support/redis';
import { addBatch, sendAll } from '../support/requests';

/** Every allocated line on the write side, and every line the read model shows, as text. */
async function bothSides(db: Knex, skus: string[]): Promise<{ write: string[]; read: string[] }> {
  const write = await db('allocations as a')
    .join('order_lines as ol', (j) => j.on('ol.id', 'a.orderline_id').andOn('ol.sku', 'a.sku'))
    .join('batches as b', (j) => j.on('b.id', 'a.batch_id').andOn('b.sku', 'a.sku'))
    .whereIn('ol.sku', skus)
    .select('ol.orderid', 'ol.sku', 'b.reference as batchref');
  const read = await db('allocations_view')
    .whereIn('sku', skus)
    .whereNotNull('batchref')
    .select('orderid', 'sku', 'batchref');
  const text = (rows: { orderid: string; sku: string; batchref: string }[]) =>
    rows.map((r) => `${r.orderid} ${r.sku} ${r.batchref}`).sort();
  return { write: text(write), read: text(read) };
}

/** Batches whose stored total disagrees with their lines, or exceeds what they hold. */
async function badBatches(db: Knex, skus: string[]): Promise<unknown[]> {
  const { rows } = await db.raw(
    `SELECT b.reference, b.purchased_quantity, b.allocated_quantity,
            coalesce(sum(ol.qty), 0)::int AS lines
     FROM batches b
     LEFT JOIN allocations a ON a.sku = b.sku AND a.batch_id = b.id
     LEFT JOIN order_lines ol ON ol.sku = a.sku AND ol.id = a.orderline_id
     WHERE b.sku = ANY(?)
     GROUP BY b.sku, b.id
     HAVING b.allocated_quantity > b.purchased_quantity
        OR b.allocated_quantity <> coalesce(sum(ol.qty), 0)`,
    [skus],
  );
  return rows as unknown[];
}

/**
 * Lines whose history does not tell exactly what happened to them: replayed in version order,
 * each line's allocated and deallocated entries must alternate (a deallocation naming the batch
 * the line was on, a refusal only while it was on none) and end where the write side has it.
 */
async function historyMismatches(db: Knex, skus: string[], write: string[]): Promise<string[]> {
  const entries = await db('history')
    .whereIn('sku', skus)
    .whereNotNull('orderid')
    .orderBy([{ column: 'sku' }, { column: 'orderid' }, { column: 'version' }, { column: 'id' }])
    .select<{ orderid: string; sku: string; type: string; batchref: string | null }[]>(
      'orderid',
      'sku',
      'type',
      'batchref',
    );
  const on = new Map<string, string | null>();
  const wrong: string[] = [];
  for (const { orderid, sku, type, batchref } of entries) {
    const line = `${orderid} ${sku}`;
    const batch = on.get(line) ?? null;
    const fits =
      (type === 'allocated' && batch === null) ||
      (type === 'deallocated' && batch === batchref) ||
      (type === 'out_of_stock' && batch === null);
    if (!fits) wrong.push(`${line}: ${type} ${batchref} while on ${batch}`);
    on.set(line, type === 'allocated' ? batchref : null);
  }
  const told = [...on].filter(([, batch]) => batch !== null).map(([line, b]) => `${line} ${b}`);
  const missing = write.filter((line) => !told.includes(line)).map((l) => `untold: ${l}`);
  const extra = told.filter((line) => !write.includes(line)).map((l) => `not so: ${l}`);
  return [...wrong, ...missing, ...extra];
}

async function undelivered(db: Knex, skus: string[]): Promise<number> {
  const row = await db('outbox')
    .whereIn('key', skus)
    .whereNull('delivered_at')
    .count<{ count: string }[]>('* as count');
  return Number(row[0].count);
}

describe('convergence', function () {
  this.timeout(240_000);
  const started: ServiceProcess[] = [];
  let publisher: Redis;
  before(() => {
    publisher = new Redis(redisUrl());
  });
  after(async () => {
    publisher.disconnect();
    await Promise.all(started.map((p) => p.kill()));
  });

  it('the read model equals the write side once quiet, after racing processes and a crash', async () => {
    const db = await testDb();
    const [a, b, c] = await Promise.all([
      startServiceProcess({}, 'all'),
      startServiceProcess({}, 'api'),
      startServiceProcess({}, 'api'),
    ]);
    started.push(a, b, c);
    const skus = [randomSku('conv-1'), randomSku('conv-2'), randomSku('conv-3')];
    const refs = skus.flatMap((sku) => [
      [randomBatchref('near'), sku],
      [randomBatchref('far'), sku],
    ]);
    for (const [ref, sku] of refs) await addBatch(a.url, ref, sku, 30);
    const urls = [a.url, b.url, c.url];
    const allocations = Array.from({ length: 360 }, (_, i) => ({
      method: 'POST' as const,
      url: `${urls[i % 3]}/allocate`,
      body: { orderid: randomOrderid(String(i)), sku: skus[i % skus.length], qty: 1 + (i % 3) },
    }));

    // quantity changes shrink and grow the batches while allocations race for them
    const changing = (async () => {
      for (let i = 0; i < 60; i++) {
        const [ref] = refs[i % refs.length];
        await publisher.publish(
          'change_batch_quantity',
          JSON.stringify({ batchref: ref, qty: 10 + ((i * 7) % 41) }),
        );
        await sleep(20);
      }
    })();
    const outcomes = await sendAll(allocations, 16, (done) => {
      if (done === 120) c.child.kill('SIGKILL'); // a process dies mid-run
    });
    await changing;

    await eventually(async () => expect(await undelivered(db, skus)).to.equal(0), 60_000);
    const { write, read } = await bothSides(db, skus);
    console.log(
      `      convergence: sent ${outcomes.length}, 202 ${outcomes.filter((o) => o.status === 202).length}, ` +
        `lines allocated ${write.length}, read-model rows ${read.length}`,
    );
    expect(read).to.deep.equal(write);
    expect(await badBatches(db, skus)).to.deep.equal([]);
    expect(await historyMismatches(db, skus, write)).to.deep.equal([]);
  });

  it('a quantity change applies while another process keeps allocating on the sku', async () => {
    const db = await testDb();
    const [consumer, api] = await Promise.all([
      startServiceProcess({}, 'all'),
      startServiceProcess({}, 'api'),
    ]);
    started.push(consumer, api);
    const [sku, ref] = [randomSku('busy'), randomBatchref('busy')];
    await addBatch(api.url, ref, sku, 1_000_000);
    let [stop, sent] = [false, 0];
    const allocating = (async () => {
      while (!stop && sent < 20_000) {
        const batch = Array.from({ length: 8 }, () => ({
          method: 'POST' as const,
          url: `${api.url}/allocate`,
          body: { orderid: randomOrderid(String(sent++)), sku, qty: 1 },
        }));
        await sendAll(batch, 8);
      }
    })();
    await eventually(async () => expect(sent).to.be.greaterThan(200), 30_000);
    const sentBefore = sent;

    await publisher.publish(
      'change_batch_quantity',
      JSON.stringify({ batchref: ref, qty: 500_000 }),
    );
    await eventually(async () => {
      const batch = await db('batches').first('purchased_quantity').where({ reference: ref });
      expect(batch.purchased_quantity).to.equal(500_000);
    }, 60_000);
    const sentWhileChanging = sent - sentBefore;
    stop = true;
    await allocating;

    console.log(
      `      busy sku: allocations before ${sentBefore}, while the change waited ${sentWhileChanging}`,
    );
    expect(await db('dead_letters').where('payload', 'like', `%${ref}%`)).to.deep.equal([]);
    expect(await badBatches(db, [sku])).to.deep.equal([]);
  });

  describe('a batch of 20,000 lines', () => {
    let service: TestService | undefined;
    after(async () => service?.stop());

    it('is emptied by one message: every line moves and is published, none dead-lettered', async () => {
      const db = await testDb();
      const running = await startTestService();
      service = running;
      const [sku, full, empty] = [
        randomSku('big'),
        randomBatchref('full'),
        randomBatchref('empty'),
      ];
      await seedFullBatch(db, sku, full, empty, 20_000);
      const published = await listen('line_allocated');
      try {
        const health: number[] = [];

        await publisher.publish(
          'change_batch_quantity',
          JSON.stringify({ batchref: full, qty: 0 }),
        );
        await eventually(async () => {
          health.push((await request(running.app.callback()).get('/healthz')).status);
          const moved = await db('allocations as a')
            .join('batches as b', (j) => j.on('b.id', 'a.batch_id').andOn('b.sku', 'a.sku'))
            .where('b.reference', empty)
            .count<{ count: string }[]>('* as count');
          expect(Number(moved[0].count)).to.equal(20_000);
          expect(await undelivered(db, [sku])).to.equal(0);
        }, 180_000);

        const mine = published.messages.filter((m) => m.sku === sku && m.batchref === empty);
        expect(new Set(mine.map((m) => m.orderid)).size).to.equal(20_000);
        const { write, read } = await bothSides(db, [sku]);
        expect(read).to.deep.equal(write);
        expect(await db('dead_letters').where('payload', 'like', `%${full}%`)).to.deep.equal([]);
        expect(health.every((status) => status === 200)).to.equal(true);
      } finally {
        published.close();
      }
    });
  });
});

/** A product whose first batch holds `lines` lines of 1, and a second batch with room for all. */
async function seedFullBatch(
  db: Knex,
  sku: string,
  full: string,
  empty: string,
  lines: number,
): Promise<void> {
  await db('products').insert({ sku, version_number: 1 });
  await db('batches').insert([
    { reference: full, sku, purchased_quantity: lines, allocated_quantity: lines, eta: null },
    { reference: empty, sku, purchased_quantity: lines, allocated_quantity: 0, eta: '2027-01-01' },
  ]);
  await db('batch_refs').insert([full, empty].map((reference) => ({ reference, sku })));
  await db.raw(
    `WITH lines AS (
       INSERT INTO order_lines (orderid, sku, qty)
       SELECT 'big-' || g, ?, 1 FROM generate_series(1, ?) g RETURNING id, orderid)
     INSERT INTO allocations (sku, orderline_id, batch_id)
     SELECT b.sku, lines.id, b.id FROM lines, batches b WHERE b.sku = ? AND b.reference = ?
     ORDER BY lines.id`,
    [sku, lines, sku, full],
  );
  await db.raw(
    `INSERT INTO allocations_view (orderid, sku, batchref, version)
     SELECT 'big-' || g, ?, ?, 1 FROM generate_series(1, ?) g`,
    [sku, full, lines],
  );
}
