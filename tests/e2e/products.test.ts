import { expect } from 'chai';
import request from 'supertest';
import { randomBatchref, randomOrderid, randomSku } from '../support/random_refs';
import { eventually } from '../support/eventually';
import { startTestService, type TestService } from '../support/in_process';

describe('GET /products/:sku and ETags', () => {
  let t: TestService;
  before(async () => {
    t = await startTestService();
  });
  after(async () => {
    await t.stop();
  });

  const api = () => request(t.app.callback());
  const addBatch = (ref: string, sku: string, qty: number, eta: string | null = null) =>
    api().post('/add_batch').send({ ref, sku, qty, eta }).expect(201);

  it('lists batches in allocation preference order with their stock', async () => {
    const sku = randomSku();
    const [later, earlier, warehouse, tie] = ['d', 'c', 'b', 'a'].map((n) => randomBatchref(n));
    await addBatch(later, sku, 10, '2026-12-02');
    await addBatch(earlier, sku, 20, '2026-12-01');
    await addBatch(warehouse, sku, 5);
    await addBatch(tie, sku, 7, '2026-12-02');
    await api().post('/allocate').send({ orderid: randomOrderid(), sku, qty: 3 }).expect(202);

    const response = await api().get(`/products/${sku}`);

    expect(response.status).to.equal(200);
    const laterTwo = [later, tie].sort();
    expect(response.body).to.deep.equal({
      sku,
      version: response.body.version,
      batches: [
        { ref: warehouse, eta: null, purchased: 5, allocated: 3, available: 2 },
        { ref: earlier, eta: '2026-12-01', purchased: 20, allocated: 0, available: 20 },
        ...laterTwo.map((ref) => ({
          ref,
          eta: '2026-12-02',
          purchased: ref === later ? 10 : 7,
          allocated: 0,
          available: ref === later ? 10 : 7,
        })),
      ],
    });
    expect(response.body.version).to.be.a('number').and.to.be.greaterThan(0);
  });

  it('returns 404 with a message for an unknown sku', async () => {
    const response = await api().get(`/products/${randomSku('unknown')}`);

    expect(response.status).to.equal(404);
    expect(response.body.message).to.be.a('string').and.not.equal('');
  });

  it('answers a matching If-None-Match with 304 and no body, and a change with a new ETag', async () => {
    const [sku, ref] = [randomSku(), randomBatchref()];
    await addBatch(ref, sku, 10);
    const first = await api().get(`/products/${sku}`).expect(200);
    const etag = first.headers.etag;
    expect(etag).to.match(/^(W\/)?".+"$/);

    const unchanged = await api().get(`/products/${sku}`).set('If-None-Match', etag);
    await api().post('/allocate').send({ orderid: randomOrderid(), sku, qty: 1 }).expect(202);
    const changed = await api().get(`/products/${sku}`).set('If-None-Match', etag);

    expect(unchanged.status).to.equal(304);
    expect(unchanged.text).to.equal('');
    expect(changed.status).to.equal(200);
    expect(changed.headers.etag).to.not.equal(etag);
    expect(changed.body.batches[0].allocated).to.equal(1);
  });

  it('sends an ETag on GET /allocations/:orderid and 304 when it matches', async () => {
    const [sku, ref, orderid] = [randomSku(), randomBatchref(), randomOrderid()];
    await addBatch(ref, sku, 10);
    await api().post('/allocate').send({ orderid, sku, qty: 2 }).expect(202);
    const first = await eventually(() => api().get(`/allocations/${orderid}`).expect(200));
    const etag = first.headers.etag;

    const again = await api().get(`/allocations/${orderid}`).set('If-None-Match', etag);
    const other = await api().get(`/allocations/${orderid}`).set('If-None-Match', '"other"');

    expect(etag).to.match(/^(W\/)?".+"$/);
    expect(again.status).to.equal(304);
    expect(again.text).to.equal('');
    expect(other.status).to.equal(200);
    expect(other.body).to.deep.equal([{ sku, batchref: ref }]);
  });
});
