// allocation_inbound_lag_seconds of a stream consumer on a real service process: an entry that
// cannot be applied (its product's row held by the test) ages on /metrics, and the lag is back
// to 0 once it is applied. Assertions on states; every wait has a deadline.
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { testDb } from '../support/db';
import { eventually } from '../support/eventually';
import { startServiceProcess, type ServiceProcess } from '../support/processes';
import { randomBatchref, randomSku } from '../support/random_refs';
import { testRedis } from '../support/redis';
import { addBatch } from '../support/requests';

const STREAM = 'change_batch_quantity';

async function lagOf(service: ServiceProcess): Promise<number> {
  const text = await (await fetch(`${service.url}/metrics`)).text();
  const match = /^allocation_inbound_lag_seconds (\S+)$/m.exec(text);
  if (!match) throw new Error('no allocation_inbound_lag_seconds on /metrics');
  return Number(match[1]);
}

describe('inbound lag', () => {
  it('ages a stream entry not yet applied, and is 0 once it is', async function () {
    this.timeout(90_000);
    const db = await testDb();
    const redis = testRedis();
    // a group of its own at the stream's end: only this test's entry is its to apply
    const group = `group-lag-${randomBytes(4).toString('hex')}`;
    await redis.xgroup('CREATE', STREAM, group, '$', 'MKSTREAM');
    const service = await startServiceProcess({
      INBOUND_TRANSPORT: 'stream',
      CONSUMER_GROUP: group,
      DB_LOCK_TIMEOUT_MS: '20000', // the handler waits for the test's lock, not fails
    });
    const [sku, ref] = [randomSku('lag'), randomBatchref('lag')];
    const lock = await db.transaction();
    try {
      await addBatch(service.url, ref, sku, 100);
      await lock.raw('SELECT 1 FROM products WHERE sku = ? FOR UPDATE', [sku]);
      await redis.xadd(STREAM, '*', 'payload', JSON.stringify({ batchref: ref, qty: 50 }));

      const waiting = await eventually(async () => {
        const lag = await lagOf(service);
        expect(lag).to.be.at.least(1);
        return lag;
      }, 30_000);
      await lock.commit();
      await eventually(async () => {
        const row = await db('batches').first('purchased_quantity').where({ reference: ref });
        expect(row?.purchased_quantity).to.equal(50);
        expect(await lagOf(service)).to.equal(0);
      }, 30_000);

      expect(waiting).to.be.at.least(1);
    } finally {
      await lock.rollback().catch(() => undefined);
      await service.stop();
      await redis.xgroup('DESTROY', STREAM, group).catch(() => undefined);
      redis.disconnect();
    }
  });

  it('shows, on an API process without a consumer, a stream entry no consumer has read', async function () {
    this.timeout(60_000);
    const redis = testRedis();
    const group = `group-lag-${randomBytes(4).toString('hex')}`;
    await redis.xgroup('CREATE', STREAM, group, '$', 'MKSTREAM');
    const api = await startServiceProcess(
      { INBOUND_TRANSPORT: 'stream', CONSUMER_GROUP: group },
      'api',
    );
    try {
      await redis.xadd(STREAM, '*', 'payload', JSON.stringify({ batchref: 'b', qty: 1 }));

      const unread = await eventually(async () => {
        const lag = await lagOf(api);
        expect(lag).to.be.at.least(1);
        return lag;
      }, 30_000);
      await redis.xgroup('SETID', STREAM, group, '$'); // as if a consumer had read it all
      await eventually(async () => expect(await lagOf(api)).to.equal(0), 30_000);

      expect(unread).to.be.at.least(1);
    } finally {
      await api.stop();
      await redis.xgroup('DESTROY', STREAM, group).catch(() => undefined);
      redis.disconnect();
    }
  });
});
