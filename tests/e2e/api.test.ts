import { gzipSync } from 'node:zlib';
import { expect } from 'chai';
import request from 'supertest';
import { randomBatchref, randomOrderid, randomSku } from '../support/random_refs';
import { eventually } from '../support/eventually';
import { startTestService, type TestService } from '../support/in_process';

describe('API', () => {
  let t: TestService;
  before(async () => {
    t = await startTestService();
  });
  after(async () => {
    await t.stop();
  });

  const addBatch = (ref: string, sku: string, qty: number, eta: string | null = null) =>
    request(t.app.callback()).post('/add_batch').send({ ref, sku, qty, eta });
  const allocate = (body: unknown) =>
    request(t.app.callback())
      .post('/allocate')
      .send(body as object);

  it('happy path returns 202 and the allocation is readable', async () => {
    const [sku, othersku] = [randomSku(), randomSku('other')];
    const [earlybatch, laterbatch, otherbatch] = [
      randomBatchref('1'),
      randomBatchref('2'),
      randomBatchref('3'),
    ];
    await addBatch(laterbatch, sku, 100, '2026-12-02').expect(201);
    await addBatch(earlybatch, sku, 100, '2026-12-01').expect(201);
    await addBatch(otherbatch, othersku, 100).expect(201);
    const orderid = randomOrderid();

    const response = await allocate({ orderid, sku, qty: 3 });

    expect(response.status).to.equal(202);
    expect(response.body).to.deep.equal({ batchref: earlybatch });
    await eventually(async () => {
      const read = await request(t.app.callback()).get(`/allocations/${orderid}`);
      expect(read.status).to.equal(200);
      expect(read.body).to.deep.equal([{ sku, batchref: earlybatch }]);
    });
  });

  it('answers an out-of-stock allocation with a null batchref', async () => {
    const [sku, ref] = [randomSku(), randomBatchref()];
    await addBatch(ref, sku, 5).expect(201);

    const response = await allocate({ orderid: randomOrderid(), sku, qty: 6 });

    expect(response.status).to.equal(202);
    expect(response.body).to.deep.equal({ batchref: null });
  });

  // superagent writes a Buffer sent with a JSON content type as JSON; this sends its bytes
  const bytesAsTheyAre = ((bytes: Buffer) => bytes) as unknown as (body: unknown) => string;

  it('takes a gzip-compressed body', async () => {
    const [sku, ref] = [randomSku(), randomBatchref()];
    await addBatch(ref, sku, 5).expect(201);
    const body = gzipSync(JSON.stringify({ orderid: randomOrderid(), sku, qty: 2 }));

    const response = await request(t.app.callback())
      .post('/allocate')
      .set('Content-Type', 'application/json')
      .set('Content-Encoding', 'gzip')
      .serialize(bytesAsTheyAre)
      .send(body);

    expect(response.status).to.equal(202);
    expect(response.body).to.deep.equal({ batchref: ref });
  });

  it('allocating the same line twice gives the same batch and one allocation', async () => {
    const [sku, ref, orderid] = [randomSku(), randomBatchref(), randomOrderid()];
    await addBatch(ref, sku, 10).expect(201);

    const first = await allocate({ orderid, sku, qty: 6 });
    const second = await allocate({ orderid, sku, qty: 6 });

    expect([first.status, second.status]).to.deep.equal([202, 202]);
    expect(second.body).to.deep.equal({ batchref: ref });
    const rows = await t.service
      .db()('batches')
      .first('allocated_quantity')
      .where({ reference: ref });
    expect(rows.allocated_quantity).to.equal(6);
  });

  it('unhappy path returns 400 and an error message for an invalid sku', async () => {
    const [unknownSku, orderid] = [randomSku(), randomOrderid()];

    const response = await allocate({ orderid, sku: unknownSku, qty: 20 });

    expect(response.status).to.equal(400);
    expect(response.body).to.deep.equal({ message: `Invalid sku ${unknownSku}` });
  });

  it('returns 404 for an order with no allocations', async () => {
    const response = await request(t.app.callback()).get(`/allocations/${randomOrderid()}`);

    expect(response.status).to.equal(404);
    expect(response.body.message).to.be.a('string');
  });

  it('returns 409 for a duplicate batch ref', async () => {
    const ref = randomBatchref();
    await addBatch(ref, randomSku(), 10).expect(201);

    const response = await addBatch(ref, randomSku(), 10);

    expect(response.status).to.equal(409);
    expect(response.body).to.deep.equal({ message: `Batch ${ref} already exists` });
  });

  it('returns 409 for a duplicate ref of the same sku, and the batch keeps its stock', async () => {
    const [ref, sku] = [randomBatchref(), randomSku()];
    await addBatch(ref, sku, 10).expect(201);
    await allocate({ orderid: randomOrderid(), sku, qty: 8 }).expect(202);

    const response = await addBatch(ref, sku, 5);

    expect(response.status).to.equal(409);
    const stock = await request(t.app.callback()).get(`/products/${sku}`).expect(200);
    expect(stock.body.batches).to.deep.equal([
      { ref, eta: null, purchased: 10, allocated: 8, available: 2 },
    ]);
  });

  it('accepts an absent eta and ignores unknown fields', async () => {
    const response = await request(t.app.callback())
      .post('/add_batch')
      .send({ ref: randomBatchref(), sku: randomSku(), qty: 3, colour: 'red' });

    expect(response.status).to.equal(201);
  });

  describe('malformed bodies get a 4xx with a message, never a 5xx', () => {
    const valid = { orderid: 'o1', sku: 'LAMP', qty: 1 };
    const cases: [string, unknown][] = [
      ['missing fields', {}],
      ['missing qty', { orderid: 'o1', sku: 'LAMP' }],
      ['zero qty', { ...valid, qty: 0 }],
      ['negative qty', { ...valid, qty: -1 }],
      ['non-integer qty', { ...valid, qty: 1.5 }],
      ['qty past 2^31-1', { ...valid, qty: 2 ** 31 }],
      ['qty as a string', { ...valid, qty: '1' }],
      ['sku as a number', { ...valid, sku: 7 }],
      ['empty orderid', { ...valid, orderid: '' }],
      ['orderid longer than 255', { ...valid, orderid: 'x'.repeat(256) }],
      ['null body fields', { orderid: null, sku: null, qty: null }],
      ['an array', [valid]],
    ];
    for (const [name, body] of cases) {
      it(`/allocate with ${name}`, async () => {
        const response = await allocate(body);

        expect(response.status).to.equal(400);
        expect(response.body.message).to.be.a('string').and.not.equal('');
      });
    }

    const batchCases: [string, unknown][] = [
      ['an impossible date', { ref: 'r', sku: 's', qty: 1, eta: '2026-02-30' }],
      ['a date in another format', { ref: 'r', sku: 's', qty: 1, eta: '01/12/2026' }],
      ['eta as a number', { ref: 'r', sku: 's', qty: 1, eta: 20261201 }],
    ];
    for (const [name, body] of batchCases) {
      it(`/add_batch with ${name}`, async () => {
        const response = await request(t.app.callback())
          .post('/add_batch')
          .send(body as object);

        expect(response.status).to.equal(400);
        expect(response.body.message).to.be.a('string');
      });
    }

    it('a body that is not JSON', async () => {
      const response = await request(t.app.callback())
        .post('/allocate')
        .set('Content-Type', 'application/json')
        .send('{"orderid": "o1", "sku":');

      expect(response.status).to.equal(400);
      expect(response.body.message).to.be.a('string');
    });

    it('a body that is not declared as JSON', async () => {
      const response = await request(t.app.callback())
        .post('/allocate')
        .set('Content-Type', 'text/plain')
        .send('orderid=o1');

      expect(response.status).to.equal(400);
      expect(response.body.message).to.be.a('string');
    });

    it('a body whose JSON names __proto__', async () => {
      const response = await request(t.app.callback())
        .post('/allocate')
        .set('Content-Type', 'application/json')
        .send('{"orderid": "o1", "sku": "LAMP", "qty": 1, "__proto__": {"admin": true}}');

      expect(response.status).to.equal(400);
      expect(response.body.message).to.be.a('string');
    });

    it('a body in a content encoding the service does not know', async () => {
      const response = await request(t.app.callback())
        .post('/allocate')
        .set('Content-Type', 'application/json')
        .set('Content-Encoding', 'compress')
        .send(JSON.stringify(valid));

      expect(response.status).to.equal(415);
      expect(response.body.message).to.be.a('string');
    });

    it('an oversize body', async () => {
      const response = await allocate({ ...valid, padding: 'x'.repeat(64 * 1024) });

      expect(response.status).to.equal(413);
      expect(response.body.message).to.be.a('string');
    });
  });

  describe('operations', () => {
    it('is live and ready', async () => {
      await request(t.app.callback()).get('/healthz').expect(200);
      const ready = await request(t.app.callback()).get('/readyz');

      expect(ready.status).to.equal(200);
    });

    it('serves the OpenAPI document and the docs page', async () => {
      const spec = await request(t.app.callback()).get('/openapi.json').expect(200);
      const docs = await request(t.app.callback()).get('/docs').expect(200);
      const asset = await request(t.app.callback()).get('/docs/assets/swagger-ui-bundle.js');

      expect(Object.keys(spec.body.paths)).to.include.members([
        '/add_batch',
        '/allocate',
        '/allocations/{orderid}',
      ]);
      expect(docs.text).to.contain('swagger-ui');
      expect(asset.status).to.equal(200);
    });

    it('echoes a request id, or makes one', async () => {
      const given = await request(t.app.callback()).get('/healthz').set('X-Request-Id', 'req-42');
      const made = await request(t.app.callback()).get('/healthz');

      expect(given.headers['x-request-id']).to.equal('req-42');
      expect(made.headers['x-request-id']).to.match(/^[0-9a-f-]{36}$/);
    });

    it('serves Prometheus metrics of handled messages and HTTP latency', async () => {
      await allocate({ orderid: randomOrderid(), sku: randomSku('none'), qty: 1 });

      const response = await request(t.app.callback()).get('/metrics');

      expect(response.status).to.equal(200);
      expect(response.text).to.match(
        /allocation_messages_handled_total\{type="Allocate",outcome="error"\} \d+/,
      );
      expect(response.text).to.contain('allocation_http_request_duration_seconds_bucket');
      expect(response.text).to.match(/allocation_outbox_backlog \d+/);
    });

    it('lists dead letters for operators', async () => {
      await t.deadLetters.add('test', '{"bad": true}', 'a reason');

      const response = await request(t.app.callback()).get('/dead_letters?limit=5');

      expect(response.status).to.equal(200);
      expect(response.body[0]).to.include({
        source: 'test',
        payload: '{"bad": true}',
        reason: 'a reason',
      });
    });

    it('answers an unknown route with 404 and a message', async () => {
      const response = await request(t.app.callback()).get('/nope');

      expect(response.status).to.equal(404);
      expect(response.body.message).to.be.a('string');
    });
  });
});
