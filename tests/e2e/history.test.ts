// History (SPEC section 3, "History"): what happened to an order and to a product, each entry
// with its cause, written by the commit of the change, read over HTTP.
import { expect } from 'chai';
import { Redis } from 'ioredis';
import request from 'supertest';
import { eventually } from '../support/eventually';
import { startTestService, type TestService } from '../support/in_process';
import { randomBatchref, randomOrderid, randomSku } from '../support/random_refs';
import { redisUrl } from '../support/redis';

interface Entry {
  at: string;
  type: string;
  sku: string;
  qty: number | null;
  batchref: string | null;
  version: number;
  cause: { kind: string; id: string } | null;
  orderid?: string | null;
  from?: number;
  to?: number;
}

const unique = () => randomOrderid('').slice('order--'.length);

describe('history', () => {
  let t: TestService;
  let publisher: Redis;
  before(async () => {
    t = await startTestService();
    publisher = new Redis(redisUrl());
  });
  after(async () => {
    publisher.disconnect();
    await t.stop();
  });

  const api = () => request(t.app.callback());
  const addBatch = (ref: string, sku: string, qty: number, eta: string | null = null) =>
    api().post('/add_batch').send({ ref, sku, qty, eta }).expect(201);
  const allocate = (orderid: string, sku: string, qty: number, requestId: string) =>
    api().post('/allocate').set('X-Request-Id', requestId).send({ orderid, sku, qty }).expect(202);
  const changeQuantity = (batchref: string, qty: number, messageId: string) =>
    publisher.publish(
      'change_batch_quantity',
      JSON.stringify({ batchref, qty, message_id: messageId }),
    );
  const orderHistory = async (orderid: string): Promise<Entry[]> =>
    (await api().get(`/orders/${orderid}/history`).expect(200)).body as Entry[];

  it('tells an allocation moved by a quantity change, each entry with its cause', async () => {
    const [sku, a, b, order] = [
      randomSku('h'),
      randomBatchref('a'),
      randomBatchref('b'),
      randomOrderid(),
    ];
    const [r1, m1] = [`r1-${unique()}`, `m1-${unique()}`];
    await addBatch(a, sku, 10);
    await addBatch(b, sku, 10, '2027-01-01');
    await allocate(order, sku, 5, r1);

    await changeQuantity(a, 1, m1);
    const entries = await eventually(async () => {
      const found = await orderHistory(order);
      expect(found).to.have.length(3);
      return found;
    });

    expect(entries.map((e) => [e.type, e.batchref, e.cause])).to.deep.equal([
      ['allocated', a, { kind: 'http', id: r1 }],
      ['deallocated', a, { kind: 'message', id: m1 }],
      ['allocated', b, { kind: 'message', id: m1 }],
    ]);
    const versions = entries.map((e) => e.version);
    expect(versions[0]).to.be.below(versions[1]);
    expect(versions[1]).to.be.below(versions[2]);
    for (const entry of entries) {
      expect(entry).to.include({ sku, qty: 5 });
      expect(new Date(entry.at).toISOString()).to.equal(entry.at);
    }
    expect(Object.keys(entries[0]).sort()).to.deep.equal(
      ['at', 'type', 'sku', 'qty', 'batchref', 'version', 'cause'].sort(),
    );
  });

  it('tells an allocation that found no stock, with its request id', async () => {
    const [sku, order, requestId] = [randomSku('h-oos'), randomOrderid(), `r-${unique()}`];
    await addBatch(randomBatchref(), sku, 1);

    const response = await allocate(order, sku, 2, requestId);

    expect(response.body).to.deep.equal({ batchref: null });
    const [entry, ...more] = await orderHistory(order);
    expect(more).to.deep.equal([]);
    expect(entry).to.include({ type: 'out_of_stock', sku, qty: 2, batchref: null });
    expect(entry.cause).to.deep.equal({ kind: 'http', id: requestId });
  });

  it("lists a product's history newest first, a page at a time to the end", async () => {
    const [sku, ref] = [randomSku('h-pages'), randomBatchref()];
    await addBatch(ref, sku, 10);
    const orders = Array.from({ length: 5 }, (_, i) => randomOrderid(String(i)));
    for (const order of orders) await allocate(order, sku, 1, `r-${unique()}`);
    await changeQuantity(ref, 20, `m-${unique()}`);
    await eventually(async () => {
      const [newest] = (await api().get(`/products/${sku}/history?limit=1`).expect(200))
        .body as Entry[];
      expect(newest.type).to.equal('quantity_changed');
    });

    const pages: Entry[][] = [];
    let next: string | undefined = `/products/${sku}/history?limit=3`;
    while (next !== undefined && pages.length < 10) {
      const response = await api().get(next).expect(200);
      pages.push(response.body as Entry[]);
      const link = response.headers.link as string | undefined;
      next = link === undefined ? undefined : /^<([^>]+)>; rel="next"$/.exec(link)?.[1];
      if (link !== undefined) expect(next, link).to.be.a('string');
    }

    expect(pages.map((page) => page.length)).to.deep.equal([3, 3, 1]);
    const entries = pages.flat();
    expect(entries.map((e) => [e.type, e.orderid ?? null])).to.deep.equal([
      ['quantity_changed', null],
      ...[...orders].reverse().map((order) => ['allocated', order]),
      ['batch_created', null],
    ]);
    expect(entries[0]).to.include({ from: 10, to: 20, batchref: ref });
    expect(entries.at(-1)).to.include({ qty: 10, batchref: ref });
    const versions = entries.map((e) => e.version);
    expect(versions).to.deep.equal([...versions].sort((x, y) => y - x));
  });

  it('names a replayed dead letter as the cause of what its replay changed', async () => {
    const [sku, ref, messageId] = [randomSku('h-replay'), randomBatchref(), `m-${unique()}`];
    await changeQuantity(ref, 3, messageId); // its batch does not exist yet: a dead letter
    const letter = await eventually(async () => {
      const letters = (await api().get('/dead_letters?limit=1000').expect(200)).body as {
        id: string;
        payload: string;
      }[];
      const found = letters.find((l) => l.payload.includes(ref));
      expect(found).to.not.equal(undefined);
      return found as { id: string };
    });
    await addBatch(ref, sku, 10);

    const replay = await api().post(`/dead_letters/${letter.id}/replay`).expect(202);

    expect(replay.body).to.include({ status: 'replayed' });
    const [newest] = (await api().get(`/products/${sku}/history`).expect(200)).body as Entry[];
    expect(newest).to.include({ type: 'quantity_changed', from: 10, to: 3 });
    expect(newest.cause).to.deep.equal({ kind: 'replay', id: letter.id });
  });

  it('answers 404 for an order with no history and an unknown sku, 400 for a bad limit', async () => {
    const none = await api().get(`/orders/${randomOrderid()}/history`);
    const unknown = await api().get(`/products/${randomSku()}/history`);
    const sku = randomSku('h-limit');
    await addBatch(randomBatchref(), sku, 1);

    expect([none.status, unknown.status]).to.deep.equal([404, 404]);
    expect(none.body).to.have.property('message');
    expect(unknown.body).to.have.property('message');
    for (const bad of ['0', '1001', 'ten', '1.5', '-1']) {
      const response = await api().get(`/products/${sku}/history?limit=${bad}`);
      expect(response.status, bad).to.equal(400);
      expect(response.body).to.have.property('message');
    }
    const badCursor = await api().get(`/products/${sku}/history?before=x`);
    expect(badCursor.status).to.equal(400);
    const fine = await api().get(`/products/${sku}/history`).expect(200);
    expect((fine.body as Entry[]).map((e) => e.type)).to.deep.equal(['batch_created']);
    expect(fine.headers.link).to.equal(undefined);
  });
});
