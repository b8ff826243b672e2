// Pause and resume per delivery handler (SPEC section 9), on real service processes with the
// test run's PostgreSQL and Redis: a pause holds across a restart and loses nothing; resumed,
// what waited is delivered (or applied) in order. "Nothing happened while paused" is checked
// after several relay polls and consumer checks and again after the restart, and the messages
// are found still waiting where they wait (the outbox, the Redis spill or stream).
import { expect } from 'chai';
import { setTimeout as sleep } from 'node:timers/promises';
import request from 'supertest';
import { testDb } from '../support/db';
import { eventually } from '../support/eventually';
import { startTestService, type TestService } from '../support/in_process';
import { randomBatchref, randomOrderid, randomSku } from '../support/random_refs';
import { startServiceProcess, type ServiceProcess } from '../support/processes';
import { listen, testRedis } from '../support/redis';
import { send } from '../support/requests';

/** Several relay polls (200 ms) and paused-consumer checks (250 ms). */
const SETTLE_MS = 1_500;

async function call(
  service: ServiceProcess,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<{ status: number; body: unknown }> {
  return send({ url: `${service.url}${path}`, method, body });
}

async function entry(service: ServiceProcess, handler: string): Promise<Record<string, unknown>> {
  const outcome = await call(service, 'GET', '/deliveries');
  expect(outcome.status).to.equal(200);
  const found = (outcome.body as Record<string, unknown>[]).find((e) => e.handler === handler);
  return found as Record<string, unknown>;
}

async function purchasedQuantity(ref: string): Promise<number> {
  const db = await testDb();
  const row = await db('batches').first('purchased_quantity').where({ reference: ref });
  return Number(row?.purchased_quantity);
}

/** The inbox ids of `ids` in the order they were applied. */
async function appliedOrder(ids: string[]): Promise<string[]> {
  const db = await testDb();
  const rows = await db('processed_messages')
    .whereIn('message_id', ids)
    .orderBy('processed_at')
    .select('message_id');
  return rows.map((r: { message_id: string }) => r.message_id);
}

describe('pause and resume', () => {
  let service: ServiceProcess | undefined;
  afterEach(async () => {
    await service?.stop();
    service = undefined;
  });

  it('line_allocated: nothing is published while paused, across a restart; resumed, everything is, in order', async function () {
    this.timeout(90_000);
    service = await startServiceProcess();
    const heard = await listen('line_allocated');
    const skus = [randomSku('pause-a'), randomSku('pause-b')];
    for (const sku of skus) {
      const batch = { ref: randomBatchref('pause'), sku, qty: 100 };
      expect((await call(service, 'POST', '/add_batch', batch)).status).to.equal(201);
    }
    const orders = Array.from({ length: 10 }, (_, i) => randomOrderid(`pause-${i}`));
    const mine = () => heard.messages.filter((m) => orders.includes(m.orderid as string));
    try {
      const paused = await call(service, 'POST', '/deliveries/line_allocated/pause');
      for (const [i, orderid] of orders.entries()) {
        const line = { orderid, sku: skus[i % 2], qty: 1 };
        expect((await call(service, 'POST', '/allocate', line)).status).to.equal(202);
      }
      await sleep(SETTLE_MS);
      const heardBeforeRestart = mine().length;
      await service.stop();
      service = await startServiceProcess();
      await sleep(SETTLE_MS);
      const afterRestart = await entry(service, 'line_allocated');
      const heardAfterRestart = mine().length;
      const db = await testDb();
      const waiting = await db('outbox')
        .whereIn('key', skus)
        .where({ handler: 'line_allocated' })
        .whereNull('delivered_at')
        .count({ n: '*' })
        .first();

      const resumed = await call(service, 'POST', '/deliveries/line_allocated/resume');
      await eventually(async () => expect(mine()).to.have.length(10), 20_000);

      expect(paused.status).to.equal(200);
      expect(paused.body).to.include({ handler: 'line_allocated', state: 'paused' });
      expect(heardBeforeRestart).to.equal(0);
      expect(heardAfterRestart).to.equal(0);
      expect(Number(waiting?.n)).to.equal(10);
      expect(afterRestart.state).to.equal('paused');
      expect(afterRestart.backlog).to.be.at.least(10);
      expect(afterRestart.oldest_age_s).to.be.a('number');
      expect(resumed.status).to.equal(200);
      expect(resumed.body).to.include({ handler: 'line_allocated', state: 'running' });
      expect(mine().map((m) => m.orderid)).to.have.members(orders);
      for (const sku of skus) {
        const ids = mine()
          .filter((m) => m.sku === sku)
          .map((m) => Number(m.message_id));
        expect(ids).to.deep.equal([...ids].sort((a, b) => a - b));
      }
    } finally {
      heard.close();
      await call(service, 'POST', '/deliveries/line_allocated/resume');
    }
  });

  for (const transport of ['pubsub', 'stream'] as const) {
    it(`inbound (${transport}): nothing is applied while paused, across a restart; resumed, everything is, in order`, async function () {
      this.timeout(90_000);
      const env = { INBOUND_TRANSPORT: transport };
      service = await startServiceProcess(env);
      const ref = randomBatchref(`pause-in-${transport}`);
      const batch = { ref, sku: randomSku('pause-in'), qty: 100 };
      expect((await call(service, 'POST', '/add_batch', batch)).status).to.equal(201);
      const ids = [50, 40, 30].map((qty) => `${ref}-to-${qty}`);
      const redis = testRedis();
      try {
        const paused = await call(service, 'POST', '/deliveries/inbound/pause');
        for (const [i, qty] of [50, 40, 30].entries()) {
          const message = JSON.stringify({ batchref: ref, qty, message_id: ids[i] });
          if (transport === 'pubsub') await redis.publish('change_batch_quantity', message);
          else await redis.xadd('change_batch_quantity', '*', 'payload', message);
        }
        await sleep(SETTLE_MS);
        const beforeRestart = await purchasedQuantity(ref);
        const waitingBeforeRestart = await entry(service, 'inbound');
        await service.stop();
        service = await startServiceProcess(env);
        await sleep(SETTLE_MS);
        const afterRestart = await entry(service, 'inbound');
        const quantityAfterRestart = await purchasedQuantity(ref);

        const resumed = await call(service, 'POST', '/deliveries/inbound/resume');
        await eventually(async () => expect(await purchasedQuantity(ref)).to.equal(30), 20_000);

        expect(paused.body).to.include({ handler: 'inbound', state: 'paused' });
        expect([beforeRestart, quantityAfterRestart]).to.deep.equal([100, 100]);
        expect(waitingBeforeRestart.backlog).to.be.at.least(3);
        expect(afterRestart.state).to.equal('paused');
        expect(afterRestart.backlog).to.be.at.least(3);
        expect(resumed.body).to.include({ handler: 'inbound', state: 'running' });
        expect(await appliedOrder(ids)).to.deep.equal(ids);
      } finally {
        redis.disconnect();
        await call(service, 'POST', '/deliveries/inbound/resume');
      }
    });
  }
});

describe('deliveries routes', () => {
  let test: TestService;
  before(async () => {
    test = await startTestService({ auth: { adminToken: 'admin-secret' } });
  });
  after(async () => test.stop());
  const admin = { Authorization: 'Bearer admin-secret' };

  it('lists the three handlers with their state and backlog', async () => {
    const response = await request(test.app.callback()).get('/deliveries').set(admin);

    expect(response.status).to.equal(200);
    expect((response.body as { handler: string }[]).map((e) => e.handler)).to.deep.equal([
      'line_allocated',
      'email',
      'inbound',
    ]);
    for (const e of response.body as Record<string, unknown>[]) {
      expect(e).to.have.keys('handler', 'state', 'backlog', 'oldest_age_s');
    }
  });

  it('answers 404 with a message for an unknown handler', async () => {
    const response = await request(test.app.callback())
      .post('/deliveries/reallocate/pause')
      .set(admin);

    expect(response.status).to.equal(404);
    expect(response.body.message).to.contain('reallocate');
  });

  it('needs the admin token', async () => {
    const app = test.app.callback();

    const list = await request(app).get('/deliveries');
    const pause = await request(app).post('/deliveries/email/pause');

    expect([list.status, pause.status]).to.deep.equal([401, 401]);
    expect(pause.headers['www-authenticate']).to.contain('Bearer');
  });
});
