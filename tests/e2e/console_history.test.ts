// The console's history (SPEC section 3, "History"): an order's story and a product's timeline,
// newest first, paged, each entry linking to its cause where the console has a page for it.
import { expect } from 'chai';
import { Redis } from 'ioredis';
import request from 'supertest';
import { eventually } from '../support/eventually';
import { startTestService, type TestService } from '../support/in_process';
import { randomBatchref, randomOrderid, randomSku } from '../support/random_refs';
import { redisUrl } from '../support/redis';

const ADMIN_TOKEN = 'console-history-admin-token';

describe('operator console: history', () => {
  let t: TestService;
  let publisher: Redis;
  before(async () => {
    t = await startTestService({ auth: { adminToken: ADMIN_TOKEN } });
    publisher = new Redis(redisUrl());
  });
  after(async () => {
    publisher.disconnect();
    await t.stop();
  });

  const api = () => request(t.app.callback());
  const admin = (path: string) => api().get(path).set('Authorization', `Bearer ${ADMIN_TOKEN}`);
  const page = async (path: string) => {
    const response = await admin(path);
    expect(response.status, path).to.equal(200);
    return response.text;
  };
  const types = (html: string) => [...html.matchAll(/<tr data-type="([a-z_]+)"/g)].map((m) => m[1]);

  it("tells an order's story, a refusal too, with its request id", async () => {
    const [sku, order] = [randomSku('console-h'), randomOrderid()];
    await api().post('/add_batch').send({ ref: randomBatchref(), sku, qty: 1 }).expect(201);
    await api()
      .post('/allocate')
      .set('X-Request-Id', 'console-refusal-1')
      .send({ orderid: order, sku, qty: 2 })
      .expect(202);

    const html = await page(`/console/orders/${order}`);

    expect(types(html)).to.deep.equal(['out_of_stock']);
    expect(html).to.contain('console-refusal-1');
    expect(html).to.contain(`href="/console/products/${sku}"`);
  });

  it("pages a product's timeline newest first and links a replay to its dead letter", async () => {
    const [sku, ref] = [randomSku('console-t'), randomBatchref()];
    await publisher.publish('change_batch_quantity', JSON.stringify({ batchref: ref, qty: 80 }));
    const letter = await eventually(async () => {
      const letters = (await admin('/dead_letters?limit=1000').expect(200)).body as {
        id: string;
        payload: string;
      }[];
      const found = letters.find((l) => l.payload.includes(ref));
      expect(found).to.not.equal(undefined);
      return found as { id: string };
    });
    await api().post('/add_batch').send({ ref, sku, qty: 100 }).expect(201);
    for (let i = 0; i < 55; i++) {
      await api().post('/allocate').send({ orderid: randomOrderid(), sku, qty: 1 }).expect(202);
    }
    await api()
      .post(`/dead_letters/${letter.id}/replay`)
      .set('Authorization', `Bearer ${ADMIN_TOKEN}`)
      .expect(202);

    const first = await page(`/console/products/${sku}`);
    const older = /<a href="(\?before=\d+)" rel="next">/.exec(first)?.[1];
    const second = await page(`/console/products/${sku}${older ?? ''}`);

    expect(older).to.be.a('string');
    expect(types(first)).to.deep.equal(['quantity_changed', ...Array(49).fill('allocated')]);
    expect(types(second)).to.deep.equal([...Array(6).fill('allocated'), 'batch_created']);
    expect(first).to.contain(`href="/console/dead_letters/${letter.id}"`);
    expect(second).to.not.contain('rel="next"');
  });
});
