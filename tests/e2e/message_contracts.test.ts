// The Redis message contracts (SPEC section 4): the AsyncAPI document is valid AsyncAPI 3, and
// what the service publishes and accepts is what that document says.
import { DiagnosticSeverity, Parser } from '@asyncapi/parser';
import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import request from 'supertest';
import { eventually } from '../support/eventually';
import { randomBatchref, randomOrderid, randomSku } from '../support/random_refs';
import { startTestService, type TestService } from '../support/in_process';
import { listen, redisUrl } from '../support/redis';

interface AsyncApi {
  asyncapi: string;
  channels: Record<string, { address: string }>;
  components: { messages: Record<string, { payload: object }> };
}

describe('message contracts (AsyncAPI)', () => {
  let t: TestService;
  let document: AsyncApi;
  let ajv: Ajv;
  before(async () => {
    t = await startTestService();
    const response = await request(t.app.callback()).get('/asyncapi.json').expect(200);
    document = response.body as AsyncApi;
    ajv = addFormats(new Ajv({ allErrors: true }));
  });
  after(async () => {
    await t.stop();
  });

  const schemaOf = (message: string): ValidateFunction =>
    ajv.compile(document.components.messages[message].payload);

  it('GET /asyncapi.json is a valid AsyncAPI 3 document of both channels', async () => {
    const { document: parsed, diagnostics } = await new Parser().parse(JSON.stringify(document));
    const errors = diagnostics
      .filter((d) => Number(d.severity) === Number(DiagnosticSeverity.Error))
      .map((d) => d.message);
    expect(errors).to.deep.equal([]);
    expect(parsed?.version()).to.match(/^3\./);
    expect(
      parsed
        ?.channels()
        .all()
        .map((c) => c.address()),
    ).to.have.members(['change_batch_quantity', 'line_allocated']);
  });

  it('the docs page links the AsyncAPI document', async () => {
    const page = await request(t.app.callback()).get('/docs').expect(200);
    expect(page.text).to.contain('href="/asyncapi.json"');
  });

  it('a published line_allocated has the version-1 envelope and validates against its schema', async () => {
    const [sku, ref, orderid, requestId] = [
      randomSku(),
      randomBatchref(),
      randomOrderid(),
      `req-${randomOrderid()}`,
    ];
    const app = t.app.callback();
    await request(app).post('/add_batch').send({ ref, sku, qty: 10 }).expect(201);
    const lineAllocated = await listen('line_allocated');
    const before = Date.now();
    try {
      await request(app)
        .post('/allocate')
        .set('X-Request-Id', requestId)
        .send({ orderid, sku, qty: 3 })
        .expect(202);
      const message = await eventually(async () => {
        const mine = lineAllocated.messages.find((m) => m.orderid === orderid);
        expect(mine).to.not.equal(undefined);
        return mine as Record<string, unknown>;
      });

      const validate = schemaOf('lineAllocated');
      expect(validate(message), JSON.stringify(validate.errors)).to.equal(true);
      expect(message).to.include({
        orderid,
        sku,
        qty: 3,
        batchref: ref,
        type: 'line_allocated',
        version: 1,
        correlation_id: requestId,
      });
      expect(message.message_id).to.be.a('string').and.not.equal('');
      const occurredAt = message.occurred_at as string;
      expect(occurredAt).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
      // the commit happened during this test (generous bounds: the database's clock, not ours)
      expect(Date.parse(occurredAt)).to.be.within(before - 60_000, Date.now() + 60_000);
      // tracing is off in this process: no trace context is made up
      expect(message).to.not.have.property('traceparent');
    } finally {
      lineAllocated.close();
    }
  });

  it('the inbound schema in the document is the one the consumer applies', async () => {
    const validate = schemaOf('changeBatchQuantity');
    const ref = randomBatchref();
    const good = { batchref: ref, qty: 0, message_id: 'm-1', traceparent: 'anything' };
    expect(validate(good), JSON.stringify(validate.errors)).to.equal(true);
    for (const bad of [{ batchref: ref, qty: -1 }, { batchref: '', qty: 1 }, { qty: 1 }]) {
      expect(validate(bad), JSON.stringify(bad)).to.equal(false);
    }
    // and the consumer sets aside what the document rejects
    const publisher = new Redis(redisUrl());
    try {
      await publisher.publish('change_batch_quantity', JSON.stringify({ batchref: ref, qty: -1 }));
    } finally {
      publisher.disconnect();
    }
    await eventually(async () => {
      const letters = await t.deadLetters.list(50);
      expect(letters.some((l) => l.payload.includes(ref) && l.reason.includes('qty'))).to.equal(
        true,
      );
    });
  });
});
