// The pub/sub consumer's bounds (SPEC section 10) on real service processes: what arrives faster
// than it can be handled, or while PostgreSQL is down, waits in a queue bounded in messages and
// bytes, and beyond it in a Redis stream (the spill), from which it is handled in order once it
// can be. Assertions are on counts read from /metrics, Redis and the database, never timings;
// every wait has a deadline. Each test uses a spill stream of its own.
import { expect } from 'chai';
import type { Knex } from 'knex';
import path from 'node:path';
import { createKnex } from '../../src/allocation/adapters/postgres/db';
import { type EmbeddedPostgresHandle, startEmbeddedPostgres } from '../../tools/embedded_postgres';
import { testDb } from '../support/db';
import { eventually } from '../support/eventually';
import { startServiceProcess, type ServiceProcess } from '../support/processes';
import { randomBatchref, randomSku } from '../support/random_refs';
import { testRedis } from '../support/redis';
import { describeOnEachRedis } from '../support/redis_setups';
import { publishInOrder } from '../../src/allocation/adapters/redis/redis_connections';
import { addBatch, send } from '../support/requests';

const REPO_ROOT = path.resolve(__dirname, '../../..');
const BOUND = { messages: 20, bytes: 2_000 };

/**
 * The quantity of message j of `count` for a batch: up and down (freeing lines), the last one a
 * value no other message has, so a message applied out of order shows as a wrong quantity.
 */
const quantity = (j: number, count: number) =>
  j === count - 1 ? 1_000 + count : j % 2 === 0 ? 50 + j : 3 + (j % 5);

/** Settings of a service whose queue holds at most BOUND and no message longer than 1 s. */
function boundedEnv(spillStream: string, databaseUrl?: string): Record<string, string> {
  return {
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    PUBSUB_QUEUE_MAX_MESSAGES: String(BOUND.messages),
    PUBSUB_QUEUE_MAX_BYTES: String(BOUND.bytes),
    PUBSUB_MAX_WAIT_MS: '1000',
    PUBSUB_SPILL_STREAM: spillStream,
  };
}

async function metric(service: ServiceProcess, name: string): Promise<number> {
  const response = await fetch(`${service.url}/metrics`);
  const match = new RegExp(`^${name} (\\S+)$`, 'm').exec(await response.text());
  if (!match) throw new Error(`no ${name} in /metrics`);
  return Number(match[1]);
}

interface Skus {
  batchrefs: string[];
  skus: string[];
}

/** Per sku, a warehouse batch holding 10 one-unit lines and a shipment to take what it frees. */
async function seed(service: ServiceProcess, name: string, count: number): Promise<Skus> {
  const skus = Array.from({ length: count }, () => randomSku(name));
  const batchrefs = skus.map(() => randomBatchref(name));
  for (const [i, sku] of skus.entries()) {
    await addBatch(service.url, batchrefs[i], sku, 100);
    const shipment = { ref: randomBatchref(`${name}-later`), sku, qty: 1_000, eta: '2099-01-01' };
    expect(
      (await send({ method: 'POST', url: `${service.url}/add_batch`, body: shipment })).status,
    ).to.equal(201);
    for (let line = 0; line < 10; line++) {
      const body = { orderid: `${batchrefs[i]}-order-${line}`, sku, qty: 1 };
      expect(
        (await send({ method: 'POST', url: `${service.url}/allocate`, body })).status,
      ).to.equal(202);
    }
  }
  return { skus, batchrefs };
}

/** `perBatch` messages for every batch, interleaved across batches, each with its own id. */
async function publish(idPrefix: string, batchrefs: string[], perBatch: number): Promise<string[]> {
  const redis = testRedis();
  const ids: string[] = [];
  try {
    // Sent all at once (a burst), and in order: through one connection to the node that owns
    // the channel, on a Redis Cluster too (publishInOrder).
    const sent: Promise<void>[] = [];
    for (let j = 0; j < perBatch; j++) {
      for (const [i, batchref] of batchrefs.entries()) {
        const message_id = `${idPrefix}-${i}-${j}`;
        ids.push(message_id);
        const message = JSON.stringify({ batchref, qty: quantity(j, perBatch), message_id });
        sent.push(publishInOrder(redis, 'change_batch_quantity', message));
      }
    }
    await Promise.all(sent);
  } finally {
    redis.disconnect();
  }
  return ids;
}

async function spillLength(stream: string): Promise<number> {
  const redis = testRedis();
  try {
    return await redis.xlen(stream);
  } finally {
    redis.disconnect();
  }
}

/** Every message applied once, the last of each batch winning, no batch over-allocated. */
async function expectAllApplied(
  db: Knex,
  ids: string[],
  { skus, batchrefs }: Skus,
  perBatch: number,
) {
  const processed = await db('processed_messages')
    .whereIn('message_id', ids)
    .count({ n: '*' })
    .first();
  expect(Number(processed?.n), 'messages applied').to.equal(ids.length);
  for (const [i, ref] of batchrefs.entries()) {
    const batch = await db('batches')
      .first('purchased_quantity', 'allocated_quantity')
      .where({ reference: ref });
    expect(batch?.purchased_quantity, `${ref}: the last quantity sent`).to.equal(
      quantity(perBatch - 1, perBatch),
    );
    expect(batch?.allocated_quantity).to.be.at.most(batch?.purchased_quantity as number);
    const lines = await db('allocations').where({ sku: skus[i] }).count({ n: '*' }).first();
    expect(Number(lines?.n), `${skus[i]}: every line still allocated once`).to.equal(10);
  }
}

describeOnEachRedis('pub/sub consumer bounds, a burst', () => {
  let service: ServiceProcess | undefined;

  after(async () => {
    await service?.stop();
  });

  it('with PostgreSQL up, a burst over the bound goes through the spill, in order, each message once', async function () {
    this.timeout(90_000);
    const spill = `pubsub-spill-test-${randomSku('burst')}`;
    service = await startServiceProcess(boundedEnv(spill));
    const skus = await seed(service, 'burst', 4);
    const ids = await publish(`burst-${spill}`, skus.batchrefs, 50);

    await eventually(async () => {
      expect(await spillLength(spill)).to.equal(0);
      expect(await metric(service!, 'allocation_pubsub_spilling')).to.equal(0);
      await expectAllApplied(await testDb(), ids, skus, 50);
    }, 60_000);
    const spilled = await metric(service, 'allocation_pubsub_spilled_total');
    const peak = await metric(service, 'allocation_pubsub_queue_peak_messages');
    const peakBytes = await metric(service, 'allocation_pubsub_queue_peak_bytes');
    console.log(
      `      burst of ${ids.length}: ${spilled} spilled, memory peak ${peak} messages / ${peakBytes} bytes`,
    );
    expect(spilled).to.be.greaterThan(0);
    expect(peak).to.be.at.most(BOUND.messages);
    expect(peakBytes).to.be.at.most(BOUND.bytes);
  });
});

describe('pub/sub consumer bounds', () => {
  let service: ServiceProcess | undefined;
  let postgres: EmbeddedPostgresHandle | undefined;

  afterEach(async () => {
    await service?.stop();
    service = undefined;
  });

  after(async () => {
    await postgres?.stop();
  });

  /** Asks the test's own PostgreSQL, on a connection that does not outlive the question. */
  async function inOwnDb(check: (db: Knex) => Promise<void>): Promise<void> {
    const db = createKnex(postgres!.url, 1);
    try {
      await check(db);
    } finally {
      await db.destroy();
    }
  }

  it('behind a stuck transaction, the queue stays bounded and every message applies once it ends', async function () {
    this.timeout(90_000);
    const spill = `pubsub-spill-test-${randomSku('stuck')}`;
    // Each attempt waits for the lock at most 300 ms, then the message is tried again.
    service = await startServiceProcess({ ...boundedEnv(spill), DB_LOCK_TIMEOUT_MS: '300' });
    const skus = await seed(service, 'stuck', 2);
    const db = await testDb();
    const blocker = await db.transaction();
    let ids: string[] = [];
    try {
      // What a stuck process would do: hold the first product's row and never finish.
      await blocker.raw('SELECT 1 FROM products WHERE sku = ? FOR UPDATE', [skus.skus[0]]);
      ids = await publish(`stuck-${spill}`, skus.batchrefs, 50);
      // The first message waits for the lock; the consumer keeps order, so all wait behind it.
      await eventually(async () => {
        expect(await metric(service!, 'allocation_pubsub_spilled_total')).to.equal(ids.length);
        expect(await metric(service!, 'allocation_pubsub_queue_messages')).to.equal(0);
      }, 30_000);
      expect(await spillLength(spill)).to.equal(ids.length);
      // the oldest message not yet applied ages while it waits in the spill
      await eventually(async () => {
        expect(await metric(service!, 'allocation_inbound_lag_seconds')).to.be.at.least(1);
      }, 30_000);
    } finally {
      await blocker.rollback();
    }
    await eventually(async () => {
      expect(await spillLength(spill)).to.equal(0);
      await expectAllApplied(db, ids, skus, 50);
      expect(await metric(service!, 'allocation_inbound_lag_seconds')).to.equal(0);
    }, 60_000);
    expect(await metric(service, 'allocation_pubsub_queue_peak_messages')).to.be.at.most(
      BOUND.messages,
    );
  });

  describe('while PostgreSQL is down', () => {
    before(async function () {
      this.timeout(60_000);
      postgres = await startEmbeddedPostgres({
        dataDir: path.join(REPO_ROOT, '.data', 'postgres-pubsub-bounds-test'),
        log: () => undefined,
      });
    });

    /**
     * A bounded service on the test's PostgreSQL, seeded, then PostgreSQL stopped and `perBatch`
     * messages published for each batch: nothing can be handled, so every one of them ends in the
     * spill and none stays in memory.
     */
    async function publishWhileDown(name: string, batches: number, perBatch: number) {
      const spill = `pubsub-spill-test-${randomSku(name)}`;
      service = await startServiceProcess(boundedEnv(spill, postgres!.url));
      const skus = await seed(service, name, batches);
      await postgres!.stop();
      const ids = await publish(`${name}-${spill}`, skus.batchrefs, perBatch);
      await eventually(async () => {
        expect(await metric(service!, 'allocation_pubsub_spilled_total')).to.equal(ids.length);
        expect(await metric(service!, 'allocation_pubsub_queue_messages')).to.equal(0);
      }, 30_000);
      return { spill, skus, ids };
    }

    it('messages beyond the bound wait in Redis, not memory, and all apply once it is back', async function () {
      this.timeout(120_000);
      const { spill, skus, ids } = await publishWhileDown('outage', 5, 60);
      const whileDown = {
        spill: await spillLength(spill),
        peak: await metric(service!, 'allocation_pubsub_queue_peak_messages'),
        peakBytes: await metric(service!, 'allocation_pubsub_queue_peak_bytes'),
        spilling: await metric(service!, 'allocation_pubsub_spilling'),
      };

      await postgres!.start();
      await eventually(async () => {
        expect(await spillLength(spill)).to.equal(0);
        expect(await metric(service!, 'allocation_pubsub_spilling')).to.equal(0);
      }, 60_000);
      console.log(
        `      ${ids.length} published while PostgreSQL was down: ${whileDown.spill} in the spill, ` +
          `memory peak ${whileDown.peak} messages / ${whileDown.peakBytes} bytes`,
      );
      expect(whileDown.spill, 'entries in the spill').to.equal(ids.length);
      expect(whileDown.spilling).to.equal(1);
      expect(whileDown.peak).to.be.at.most(BOUND.messages);
      expect(whileDown.peakBytes).to.be.at.most(BOUND.bytes);
      await inOwnDb((db) => expectAllApplied(db, ids, skus, 60));
      expect(service!.isRunning(), service!.output()).to.equal(true);
    });

    it('what a stopped process spilled is handled first by the next one, in order', async function () {
      this.timeout(120_000);
      const { spill, skus, ids: before } = await publishWhileDown('restart', 3, 40);
      expect(await service!.stop()).to.equal(0);
      service = undefined;
      expect(await spillLength(spill)).to.equal(before.length);

      await postgres!.start();
      service = await startServiceProcess(boundedEnv(spill, postgres!.url));
      // Sent after the restart, these must land after the spilled ones: the last of them wins.
      const after = await publish(`restart-after-${spill}`, skus.batchrefs, 30);
      await eventually(async () => {
        expect(await spillLength(spill)).to.equal(0);
        await inOwnDb((db) => expectAllApplied(db, [...before, ...after], skus, 30));
      }, 60_000);
    });
  });
});
