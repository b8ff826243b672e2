import { expect } from 'chai';
import request from 'supertest';
import { eventually } from '../support/eventually';
import { randomBatchref, randomOrderid, randomSku } from '../support/random_refs';
import { startTestService, type TestService } from '../support/in_process';
import {
  publishInOrder,
  type RedisClient,
} from '../../src/allocation/adapters/redis/redis_connections';
import { redisPublisher } from '../../src/allocation/adapters/redis/redis_eventpublisher';
import { Allocated } from '../../src/allocation/domain/events';
import { describeOnEachRedis } from '../support/redis_setups';
import { listen, testRedis } from '../support/redis';

describeOnEachRedis('Redis entrypoints', () => {
  let t: TestService;
  let publisher: RedisClient;
  before(async () => {
    t = await startTestService();
    publisher = testRedis();
  });
  after(async () => {
    publisher.disconnect();
    await t.stop();
  });

  const post = (path: string, body: object) => request(t.app.callback()).post(path).send(body);

  it('is ready, on the Redis it was given', async () => {
    const client = t.service.redis() as { isCluster?: boolean };
    expect(client.isCluster === true).to.equal(process.env.REDIS_CLUSTER_NODES !== undefined);
    // Readiness is what a probe sees within a bound, not at the first instant: on a busy machine
    // the Redis Cluster client was not connected yet when asked at once after start (503 "redis
    // unreachable", once in a CI run).
    await eventually(async () => {
      const ready = await request(t.app.callback()).get('/readyz');
      expect(ready.status, JSON.stringify(ready.body)).to.equal(200);
    });
  });

  it('change_batch_quantity leads to reallocation and a line_allocated message', async () => {
    const [orderid, sku, earlier, later] = [
      randomOrderid(),
      randomSku(),
      randomBatchref('old'),
      randomBatchref('newer'),
    ];
    await post('/add_batch', { ref: earlier, sku, qty: 10, eta: '2026-12-01' }).expect(201);
    await post('/add_batch', { ref: later, sku, qty: 10, eta: '2026-12-02' }).expect(201);
    const lineAllocated = await listen('line_allocated');
    try {
      await post('/allocate', { orderid, sku, qty: 10 }).expect(202);
      await eventually(async () => {
        expect(lineAllocated.messages.filter((m) => m.orderid === orderid)).to.have.length(1);
      });

      await publishInOrder(
        publisher,
        'change_batch_quantity',
        JSON.stringify({ batchref: earlier, qty: 5 }),
      );

      await eventually(async () => {
        const mine = lineAllocated.messages.filter((m) => m.orderid === orderid);
        expect(mine.map((m) => m.batchref)).to.deep.equal([earlier, later]);
        expect(mine[1]).to.include({ orderid, sku, qty: 10, batchref: later });
      });
      await eventually(async () => {
        const read = await request(t.app.callback()).get(`/allocations/${orderid}`);
        expect(read.body).to.deep.equal([{ sku, batchref: later }]);
      });
    } finally {
      lineAllocated.close();
    }
  });

  it('line_allocated messages reach a subscriber in the order they were published', async () => {
    // On a Redis Cluster, publishes sent through different nodes could arrive swapped.
    const sku = randomSku('order');
    const publish = redisPublisher(publisher);
    const lineAllocated = await listen('line_allocated');
    try {
      const sent = Array.from({ length: 300 }, (_, i) => `order-${i}`);
      for (const orderid of sent) {
        const event = new Allocated(orderid, sku, 1, 'batch', 1);
        await publish('line_allocated', event, {
          messageId: orderid,
          correlationId: null,
          occurredAt: new Date(),
        });
      }
      const received = await eventually(async () => {
        const mine = lineAllocated.messages.filter((m) => m.sku === sku);
        expect(mine).to.have.length(sent.length);
        return mine.map((m) => m.orderid);
      });
      expect(received).to.deep.equal(sent);
    } finally {
      lineAllocated.close();
    }
  });

  it('a malformed message is set aside and the next valid one is still processed', async () => {
    const [sku, ref] = [randomSku(), randomBatchref()];
    await post('/add_batch', { ref, sku, qty: 10 }).expect(201);
    const garbage = `{"batchref": "${ref}", "qty": "lots"}`;

    await publishInOrder(publisher, 'change_batch_quantity', 'not json at all');
    await publishInOrder(publisher, 'change_batch_quantity', garbage);
    await publishInOrder(
      publisher,
      'change_batch_quantity',
      JSON.stringify({ batchref: randomBatchref('unknown'), qty: 1 }),
    );
    await publishInOrder(
      publisher,
      'change_batch_quantity',
      JSON.stringify({ batchref: ref, qty: 7 }),
    );

    await eventually(async () => {
      const batch = await t.service
        .db()('batches')
        .first('purchased_quantity')
        .where({ reference: ref });
      expect(batch.purchased_quantity).to.equal(7);
    });
    const letters = await t.deadLetters.list(20);
    const garbageLetter = letters.find((l) => l.payload === garbage);
    expect(garbageLetter?.reason).to.contain('qty');
    expect(
      letters.some((l) => l.payload === 'not json at all' && l.reason === 'not JSON'),
    ).to.equal(true);
    expect(letters.some((l) => l.reason.startsWith('UnknownBatch'))).to.equal(true);
  });

  it('a message id is applied once', async () => {
    const [sku, ref, messageId] = [randomSku(), randomBatchref(), randomOrderid('msg')];
    await post('/add_batch', { ref, sku, qty: 10 }).expect(201);

    await publishInOrder(
      publisher,
      'change_batch_quantity',
      JSON.stringify({ batchref: ref, qty: 5, message_id: messageId }),
    );
    await publishInOrder(
      publisher,
      'change_batch_quantity',
      JSON.stringify({ batchref: ref, qty: 8 }),
    );
    await publishInOrder(
      publisher,
      'change_batch_quantity',
      JSON.stringify({ batchref: ref, qty: 5, message_id: messageId }),
    );
    const marker = randomBatchref('marker');
    await post('/add_batch', { ref: marker, sku: randomSku(), qty: 1 }).expect(201);
    await publishInOrder(
      publisher,
      'change_batch_quantity',
      JSON.stringify({ batchref: marker, qty: 2 }),
    );

    // messages are handled in order, so once the marker changed the duplicate was seen too
    await eventually(async () => {
      const row = await t.service
        .db()('batches')
        .first('purchased_quantity')
        .where({ reference: marker });
      expect(row.purchased_quantity).to.equal(2);
    });
    const batch = await t.service
      .db()('batches')
      .first('purchased_quantity')
      .where({ reference: ref });
    expect(batch.purchased_quantity).to.equal(8);
  });
});
