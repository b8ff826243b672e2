// Scale-out on real service processes: competing consumers on the `change_batch_quantity`
// stream (sharing the work, a consumer killed with entries in hand, a poison entry), two API
// processes on one database, and the outbound `line_allocated` stream. Each stream test makes
// its own consumer group at the stream's end before adding entries, so the group sees only that
// test's entries. Every ChangeBatchQuantity applied bumps its product's version by exactly 1
// (one superseded by a later entry of the stream is ignored and bumps nothing), so the sum of
// version increments counts applications: a lost entry or a duplicate shows in it.
// Assertions are on state (rows, pending entries, published messages), never on log text or
// timings; every wait has a deadline.
import { expect } from 'chai';
import type { Knex } from 'knex';
import type { RedisClient } from '../../src/allocation/adapters/redis/redis_connections';
import { randomBytes } from 'node:crypto';
import { backendsBlockedBy, testDb } from '../support/db';
import { eventually } from '../support/eventually';
import { randomBatchref, randomOrderid, randomSku } from '../support/random_refs';
import { startServiceProcess, type ServiceProcess } from '../support/processes';
import { describeOnEachRedis } from '../support/redis_setups';
import { listen, testRedis } from '../support/redis';
import { addBatch, countBy, sendAll } from '../support/requests';

const STREAM = 'change_batch_quantity';
const DEAD_LETTER_SOURCE = `stream:${STREAM}`;

interface Product {
  sku: string;
  ref: string;
}

/** [entry id, consumer, idle ms, deliveries], as XPENDING's extended form answers. */
type PendingEntry = [string, string, number, number];

/** A new consumer group at the stream's end: it delivers only entries added from now on. */
async function newGroup(redis: RedisClient, name: string): Promise<string> {
  const group = `group-${name}-${randomBytes(4).toString('hex')}`;
  await redis.xgroup('CREATE', STREAM, group, '$', 'MKSTREAM');
  return group;
}

/** The environment of a stream consumer process in `group`. */
function consumerEnv(group: string, name: string, extra: Record<string, string> = {}) {
  return {
    INBOUND_TRANSPORT: 'stream',
    CONSUMER_GROUP: group,
    CONSUMER_NAME: name,
    ...extra,
  };
}

/** Products with one warehouse batch each, written directly: the stream is what is tested. */
async function insertProducts(db: Knex, name: string, count: number): Promise<Product[]> {
  const products = Array.from({ length: count }, (_, i) => ({
    sku: randomSku(`${name}-${i}`),
    ref: randomBatchref(`${name}-${i}`),
  }));
  await db('products').insert(products.map((p) => ({ sku: p.sku, version_number: 0 })));
  await db('batches').insert(
    products.map((p) => ({ reference: p.ref, sku: p.sku, purchased_quantity: 100, eta: null })),
  );
  await db('batch_refs').insert(products.map((p) => ({ reference: p.ref, sku: p.sku })));
  return products;
}

async function versionsOf(db: Knex, products: Product[]): Promise<Map<string, number>> {
  const rows: { sku: string; version_number: number }[] = await db('products')
    .whereIn(
      'sku',
      products.map((p) => p.sku),
    )
    .select('sku', 'version_number');
  return new Map(rows.map((r) => [r.sku, r.version_number]));
}

/** How many changes were applied to `products` since `before`: the sum of version increments. */
async function appliedSince(db: Knex, before: Map<string, number>): Promise<number> {
  const now = await versionsOf(
    db,
    [...before.keys()].map((sku) => ({ sku, ref: '' })),
  );
  return [...before].reduce((sum, [sku, version]) => sum + (now.get(sku) ?? 0) - version, 0);
}

/** Appends each payload as an entry (field `payload`); returns the entry ids, in order. */
async function addEntries(redis: RedisClient, payloads: string[]): Promise<string[]> {
  const pipeline = redis.pipeline();
  for (const payload of payloads) pipeline.xadd(STREAM, '*', 'payload', payload);
  const results = (await pipeline.exec()) ?? [];
  return results.map(([error, id]) => {
    if (error) throw error;
    return id as string;
  });
}

/** The group's pending entries between `first` and `last`, of one consumer or of all. */
async function pendingEntries(
  redis: RedisClient,
  group: string,
  first: string,
  last: string,
  consumer?: string,
): Promise<PendingEntry[]> {
  const args: (string | number)[] = [STREAM, group, first, last, 10_000];
  if (consumer) args.push(consumer);
  return (await redis.call('XPENDING', ...args)) as PendingEntry[];
}

/** How many entries the group has delivered and not acknowledged, whatever their stream. */
async function groupPendingCount(redis: RedisClient, group: string): Promise<number> {
  const [count] = (await redis.xpending(STREAM, group)) as [number, ...unknown[]];
  return Number(count);
}

/** How many entries the group has not read yet (Redis 7's lag), 0 when it is caught up. */
async function groupLag(redis: RedisClient, group: string): Promise<number> {
  const groups = (await redis.xinfo('GROUPS', STREAM)) as unknown[][];
  const fields = groups.find((g) => g[g.indexOf('name') + 1] === group) ?? [];
  return Number(fields[fields.indexOf('lag') + 1]);
}

async function deadLettersWith(db: Knex, payloads: string[]) {
  return db('dead_letters').whereIn('payload', payloads).select('source', 'payload', 'reason');
}

describe('scale-out', () => {
  let db: Knex;
  let redis: RedisClient;
  before(async () => {
    db = await testDb();
    redis = testRedis();
  });
  after(() => {
    redis.disconnect();
  });

  it('two stream consumers in one group share the entries and apply each exactly once', async function () {
    this.timeout(90_000);
    const group = await newGroup(redis, 'share');
    const products = await insertProducts(db, 'share', 10);
    const before = await versionsOf(db, products);
    // Quantities stay far above anything allocated (nothing is), so no entry deallocates.
    const payloads = Array.from({ length: 1_000 }, (_, i) =>
      JSON.stringify({ batchref: products[i % products.length].ref, qty: 1_000 + i }),
    );
    // A short claim time lets a failed entry be retried within the test (the inbox makes a
    // steal harmless); lock waits outlast the test's hold on the rows below.
    // At info, each consumer logs every entry it handles, superseded ones too (counted below).
    const extra = { STREAM_CLAIM_IDLE_MS: '3000', DB_LOCK_TIMEOUT_MS: '20000', LOG_LEVEL: 'info' };
    const lock = await db.transaction();
    let a: ServiceProcess | undefined;
    let b: ServiceProcess | undefined;
    try {
      // Holding every product's row lock, each consumer stops at the first entry it reads, with
      // its whole read in hand: both hold entries at once, whichever started first, no race.
      // One product at a time: on Citus a row lock over several shards is refused.
      for (const { sku } of products) {
        await lock.raw('SELECT 1 FROM products WHERE sku = ? FOR UPDATE', [sku]);
      }
      [a, b] = await Promise.all([
        startServiceProcess(consumerEnv(group, 'consumer-a', extra), 'consumer'),
        startServiceProcess(consumerEnv(group, 'consumer-b', extra), 'consumer'),
      ]);
      const ids = await addEntries(redis, payloads);
      const [first, last] = [ids[0], ids[ids.length - 1]];
      const inHand = await eventually(async () => {
        const held = await Promise.all(
          ['consumer-a', 'consumer-b'].map(
            async (name) => (await pendingEntries(redis, group, first, last, name)).length,
          ),
        );
        expect(
          held.every((n) => n > 0),
          `entries in hand ${JSON.stringify(held)}`,
        ).to.equal(true);
        return held;
      }, 15_000);
      await lock.commit();

      // A deadline, not a speed: the whole test took 11-12 s on one PostgreSQL and 8-27 s on
      // the local Citus cluster (a hop per statement, two-phase commits, other runs beside it).
      const settled = await eventually(async () => {
        expect(await groupLag(redis, group)).to.equal(0);
        expect(await groupPendingCount(redis, group)).to.equal(0);
        return true;
      }, 60_000).catch(() => false);
      // Stopped before counting, so no late duplicate can slip in after the count.
      await Promise.all([a.stop(), b.stop()]);

      const applied = await appliedSince(db, before);
      const letters = await deadLettersWith(db, payloads);
      // Each applied entry leaves one inbox row; one superseded by a later entry already applied
      // writes nothing (so that a forced replay can follow) and is counted from the logs.
      const superseded = [a, b]
        .map((p) => p.output().split('superseded by a newer one').length - 1)
        .reduce((x, y) => x + y, 0);
      const inboxRows = await db('processed_messages')
        .whereIn(
          'message_id',
          ids.map((id) => `change_batch_quantity:${id}`),
        )
        .count<{ n: string }[]>('* as n');
      // Consumers may handle a batch's entries out of order; the stream position on each
      // batch makes the last entry sent win anyway.
      const lastSent = new Map(
        payloads
          .map((p) => JSON.parse(p) as { batchref: string; qty: number })
          .map((m) => [m.batchref, m.qty]),
      );
      const finals: { reference: string; purchased_quantity: number }[] = await db('batches')
        .whereIn('reference', [...lastSent.keys()])
        .select('reference', 'purchased_quantity');
      const stale = finals.filter((f) => f.purchased_quantity !== lastSent.get(f.reference));
      console.log(
        `      share: entries ${ids.length}, in hand at once a ${inHand[0]} b ${inHand[1]}, ` +
          `handled ${inboxRows[0].n} + superseded ${superseded}, applied ${applied}, dead letters ${letters.length}, ` +
          `batches not at their last quantity sent ${stale.length}/${finals.length}, ` +
          `settled ${settled}`,
      );
      expect(letters, 'valid entries dead-lettered').to.deep.equal([]);
      expect(
        Number(inboxRows[0].n) + superseded,
        'entries handled (inbox rows + superseded)',
      ).to.equal(payloads.length);
      expect(applied, 'version increments (entries applied)').to.be.at.most(payloads.length);
      expect(stale, 'batches not at their last quantity sent').to.deep.equal([]);
      expect(await groupPendingCount(redis, group), 'entries never acknowledged').to.equal(0);
      expect(await groupLag(redis, group), 'entries never read').to.equal(0);
    } finally {
      if (!lock.isCompleted()) await lock.rollback();
      await a?.kill();
      await b?.kill();
    }
  });

  it('applies exactly once the entries of a consumer killed while they were pending with it', async function () {
    this.timeout(45_000);
    const group = await newGroup(redis, 'kill');
    const [product] = await insertProducts(db, 'kill', 1);
    const before = await versionsOf(db, [product]);
    const payloads = Array.from({ length: 5 }, (_, i) =>
      JSON.stringify({ batchref: product.ref, qty: 200 + i }),
    );
    const lock = await db.transaction();
    let a: ServiceProcess | undefined;
    let b: ServiceProcess | undefined;
    try {
      // Holding the product's row lock keeps consumer-a's first write of it waiting, with no
      // race: the entries are pending with a consumer that cannot finish them when it dies.
      const { rows } = await lock.raw<{ rows: { pid: number }[] }>(
        'SELECT pg_backend_pid() AS pid',
      );
      await lock.raw('SELECT 1 FROM products WHERE sku = ? FOR UPDATE', [product.sku]);
      const ids = await addEntries(redis, payloads);
      const [first, last] = [ids[0], ids[ids.length - 1]];
      const claimFast = { STREAM_CLAIM_IDLE_MS: '1000' };
      a = await startServiceProcess(consumerEnv(group, 'consumer-a', claimFast), 'consumer');
      const blocked = await eventually(async () => {
        const waiting = await backendsBlockedBy(db, rows[0].pid);
        expect(waiting).to.have.length(1);
        expect(await pendingEntries(redis, group, first, last, 'consumer-a')).to.not.be.empty;
        return waiting[0];
      }, 15_000);

      a.child.kill('SIGKILL');
      await a.exited;
      const pendingWithA = await pendingEntries(redis, group, first, last, 'consumer-a');
      await lock.commit();
      b = await startServiceProcess(consumerEnv(group, 'consumer-b', claimFast), 'consumer');

      // Settled when every entry is acknowledged and consumer-a's orphaned statement (the
      // server finishes it after the lock is released) is over: nothing can apply after that.
      const settled = await eventually(async () => {
        expect(await appliedSince(db, before)).to.be.at.least(payloads.length);
        expect(await groupLag(redis, group)).to.equal(0);
        expect(await groupPendingCount(redis, group)).to.equal(0);
        const orphan = await db.raw<{ rows: unknown[] }>(
          'SELECT 1 FROM pg_stat_activity WHERE pid = ?',
          [blocked],
        );
        expect(orphan.rows).to.deep.equal([]);
        return true;
      }, 20_000).catch(() => false);
      const applied = await appliedSince(db, before);
      const letters = await deadLettersWith(db, payloads);
      const pendingAfter = await groupPendingCount(redis, group);
      console.log(
        `      kill: entries ${ids.length}, pending with the killed consumer ${pendingWithA.length}, ` +
          `applied ${applied}, still pending ${pendingAfter}, dead letters ${letters.length}, ` +
          `settled ${settled}`,
      );
      expect(pendingWithA.length, 'pending with consumer-a when it was killed').to.be.above(0);
      expect(letters, 'valid entries dead-lettered').to.deep.equal([]);
      expect(applied, `version increments (entries applied)\n${b.output()}`).to.equal(
        payloads.length,
      );
      expect(pendingAfter, 'entries never acknowledged').to.equal(0);
    } finally {
      if (!lock.isCompleted()) await lock.rollback();
      await a?.kill();
      await b?.kill();
    }
  });

  it('never oversells a batch when allocations race for it through two API processes', async function () {
    this.timeout(45_000);
    const N = 40;
    const [sku, ref] = [randomSku('two-apis'), randomBatchref('two-apis')];
    const orderids = Array.from({ length: 3 * N }, (_, i) => randomOrderid(`two-apis-${i}`));
    let first: ServiceProcess | undefined;
    let second: ServiceProcess | undefined;
    try {
      [first, second] = await Promise.all([
        startServiceProcess({ API_WORKERS: '1' }, 'api'),
        startServiceProcess({ API_WORKERS: '1' }, 'api'),
      ]);
      await addBatch(first.url, ref, sku, N);
      const urls = [first.url, second.url];
      const requests = orderids.map((orderid, i) => ({
        method: 'POST' as const,
        url: `${urls[i % 2]}/allocate`,
        body: { orderid, sku, qty: 1 },
      }));

      const outcomes = await sendAll(requests, 32);

      const allocated: { orderid: string }[] = await db('allocations as a')
        .join('order_lines as ol', (j) => j.on('ol.id', 'a.orderline_id').andOn('ol.sku', 'a.sku'))
        .where('ol.sku', sku)
        .select('ol.orderid');
      const batch = await db('batches')
        .first('purchased_quantity', 'allocated_quantity')
        .where({ reference: ref });
      const batchrefs = outcomes.map(
        (o) => (o.body as { batchref?: string | null } | null)?.batchref,
      );
      const naming = orderids.filter((_, i) => batchrefs[i] === ref);
      const statuses = countBy(outcomes, (o) => o.status);
      const namingByProcess = [0, 1].map(
        (p) => orderids.filter((_, i) => i % 2 === p && batchrefs[i] === ref).length,
      );
      console.log(
        `      two APIs: sent ${orderids.length}, statuses ${JSON.stringify(statuses)}, ` +
          `naming the batch ${naming.length} (first ${namingByProcess[0]}, second ` +
          `${namingByProcess[1]}), allocated ${allocated.length}, ` +
          `allocated_quantity ${batch?.allocated_quantity}`,
      );
      const unexpected = outcomes.filter((o) => o.status !== 202).slice(0, 5);
      expect(statuses, `e.g. ${JSON.stringify(unexpected)}`).to.deep.equal({ 202: 3 * N });
      // Those beyond the stock are answered too, with no batch: out of stock is not an error.
      expect(batchrefs.filter((b) => b !== ref && b !== null)).to.deep.equal([]);
      expect(naming).to.have.length(N);
      expect(allocated.map((a) => a.orderid)).to.have.members(naming);
      expect(batch).to.deep.equal({ purchased_quantity: N, allocated_quantity: N });
    } finally {
      await first?.kill();
      await second?.kill();
    }
  });
});

// The stream consumer group and the outbound stream, on one Redis and on a Redis Cluster.
describeOnEachRedis('scale-out: streams', () => {
  let db: Knex;
  let redis: RedisClient;
  before(async () => {
    db = await testDb();
    redis = testRedis();
  });
  after(() => {
    redis.disconnect();
  });

  it('sets a poison stream entry aside after the delivery limit, and a non-JSON one at once', async function () {
    this.timeout(40_000);
    const group = await newGroup(redis, 'poison');
    const poison = JSON.stringify({ batchref: randomBatchref('unknown'), qty: 1 });
    const garbage = `not json ${randomBytes(4).toString('hex')}`;
    let consumer: ServiceProcess | undefined;
    try {
      consumer = await startServiceProcess(
        consumerEnv(group, 'consumer-poison', {
          STREAM_MAX_DELIVERIES: '3',
          STREAM_CLAIM_IDLE_MS: '500',
        }),
        'consumer',
      );

      const [poisonId, garbageId] = await addEntries(redis, [poison, garbage]);

      const letters = await eventually(async () => {
        const found = await deadLettersWith(db, [poison, garbage]);
        expect(found.map((l) => l.payload)).to.have.members([poison, garbage]);
        return found;
      }, 25_000);
      // Stored, then acknowledged: wait for the acknowledgement too (bounded).
      const pending = await eventually(async () => {
        const left = await pendingEntries(redis, group, poisonId, garbageId);
        expect(left).to.deep.equal([]);
        return left;
      }, 10_000).catch(() => pendingEntries(redis, group, poisonId, garbageId));
      console.log(
        `      poison: dead letters ${JSON.stringify(letters.map((l) => l.reason))}, ` +
          `still pending ${pending.length}`,
      );
      const poisonLetter = letters.find((l) => l.payload === poison);
      const garbageLetter = letters.find((l) => l.payload === garbage);
      expect(poisonLetter?.source).to.equal(DEAD_LETTER_SOURCE);
      expect(poisonLetter?.reason).to.contain('Unknown batch').and.to.contain('after 3 deliveries');
      expect(garbageLetter?.source).to.equal(DEAD_LETTER_SOURCE);
      // No delivery count in the reason: it was set aside on its first delivery.
      expect(garbageLetter?.reason).to.equal('not JSON');
      // Set aside means acknowledged: nothing is redelivered, and nothing is stored twice.
      expect(pending).to.deep.equal([]);
      expect(letters).to.have.length(2);
    } finally {
      await consumer?.kill();
    }
  });

  it('also appends each line_allocated message to the line_allocated stream', async function () {
    this.timeout(40_000);
    const [sku, ref, orderid] = [
      randomSku('outbound'),
      randomBatchref('outbound'),
      randomOrderid(),
    ];
    const lineAllocated = await listen('line_allocated');
    let service: ServiceProcess | undefined;
    try {
      service = await startServiceProcess({ OUTBOUND_STREAM: 'true' }, 'all');
      await addBatch(service.url, ref, sku, 10);
      const [lastBefore] = (await redis.xrevrange('line_allocated', '+', '-', 'COUNT', 1)) ?? [];
      const since = lastBefore?.[0] ?? '0-0';

      const [outcome] = await sendAll(
        [{ method: 'POST', url: `${service.url}/allocate`, body: { orderid, sku, qty: 3 } }],
        1,
      );

      expect(outcome).to.deep.equal({ status: 202, body: { batchref: ref } });
      const entries = await eventually(async () => {
        const reply = await redis.xread('COUNT', 10_000, 'STREAMS', 'line_allocated', since);
        const found = (reply?.[0]?.[1] ?? [])
          .map(([, fields]) => fields[fields.indexOf('payload') + 1])
          .map((payload) => JSON.parse(payload) as Record<string, unknown>)
          .filter((message) => message.orderid === orderid);
        expect(found).to.not.be.empty;
        return found;
      }, 15_000);
      // The channel's message, so both can be matched by message id.
      const published = await eventually(async () => {
        const found = lineAllocated.messages.filter((m) => m.orderid === orderid);
        expect(found).to.not.be.empty;
        return found;
      }, 15_000);
      console.log(
        `      outbound: stream entries for the order ${entries.length}, channel messages ` +
          `${published.length}`,
      );
      expect(entries).to.have.length(1);
      expect(entries[0]).to.include({ orderid, sku, qty: 3, batchref: ref });
      expect(entries[0].message_id).to.equal(published[0].message_id);
    } finally {
      lineAllocated.close();
      await service?.kill();
    }
  });
});
