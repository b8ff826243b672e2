// SPEC section 4's rules for inbound messages: ids (a string of 1-255 characters, or a number)
// stored whole, and the 64 KiB limit checked before parsing, on pub/sub and stream alike.
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import request from 'supertest';
import { RedisStreamConsumer } from '../../src/allocation/entrypoints/redis/redis_streamconsumer';
import { eventually } from '../support/eventually';
import { randomBatchref, randomOrderid, randomSku } from '../support/random_refs';
import { startTestService, type TestService } from '../support/in_process';
import { redisUrl } from '../support/redis';

const LIMIT = 64 * 1024;

/** JSON of exactly `size` bytes that would be a valid change if it were not too big. */
function oversizedMessage(batchref: string, size: number): string {
  const start = JSON.stringify({ batchref, qty: 3, padding: '' });
  return `${start.slice(0, -2)}${'x'.repeat(size - start.length)}"}`;
}

describe('inbound message limits', () => {
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

  const post = (path: string, body: object) => request(t.app.callback()).post(path).send(body);
  const purchased = async (ref: string): Promise<number> =>
    (await t.service.db()('batches').first('purchased_quantity').where({ reference: ref }))
      .purchased_quantity;
  const publish = (message: unknown) =>
    publisher.publish('change_batch_quantity', JSON.stringify(message));
  /** Messages are handled in order: once this one is applied, all before it were seen. */
  const drain = async () => {
    const marker = randomBatchref('marker');
    await post('/add_batch', { ref: marker, sku: randomSku(), qty: 1 }).expect(201);
    await publish({ batchref: marker, qty: 2 });
    await eventually(async () => expect(await purchased(marker)).to.equal(2));
  };

  it('accepts a numeric id, stored as its decimal string, and applies it once', async () => {
    const [ref, id] = [randomBatchref(), 12345678901234567890n + BigInt(Date.now())];
    const smallId = Date.now() * 1000 + Math.floor(Math.random() * 1000); // a safe integer
    await post('/add_batch', { ref, sku: randomSku(), qty: 10 }).expect(201);
    // As JSON numbers: 20 digits, more than a double holds exactly.
    const withId = (qty: number) =>
      `{"batchref": ${JSON.stringify(ref)}, "qty": ${qty}, "message_id": ${id}}`;

    await publisher.publish('change_batch_quantity', withId(5));
    await publisher.publish('change_batch_quantity', withId(7)); // a repeat: no second effect
    await publish({ batchref: ref, qty: 6, id: smallId });
    await drain();

    expect(await purchased(ref)).to.equal(6);
    const inbox = await t.service
      .db()('processed_messages')
      .whereIn('message_id', [id.toString(), String(smallId)])
      .pluck('message_id');
    expect(inbox.sort()).to.deep.equal([String(smallId), id.toString()].sort());
    const letters = await t.deadLetters.list(50);
    expect(letters.filter((l) => l.payload.includes(ref))).to.deep.equal([]);
  });

  it('stores a 200-character id whole through a change that frees a line', async () => {
    const [sku, ref, orderid] = [randomSku(), randomBatchref(), randomOrderid()];
    const id = `long-${randomBytes(8).toString('hex')}-`.padEnd(200, 'i');
    await post('/add_batch', { ref, sku, qty: 10 }).expect(201);
    await post('/allocate', { orderid, sku, qty: 8 }).expect(202);

    await publish({ batchref: ref, qty: 5, message_id: id }); // frees the line of 8
    await drain();

    expect(await purchased(ref)).to.equal(5);
    const outbox = await t.service.db()('outbox').where({ correlation_id: id }).pluck('type');
    expect(outbox).to.include('Deallocated');
    const inbox = await t.service.db()('processed_messages').where({ message_id: id });
    expect(inbox).to.have.length(1);
    const letters = await t.deadLetters.list(50);
    expect(letters.filter((l) => l.payload.includes(id))).to.deep.equal([]);
  });

  it('sets a pub/sub message over 64 KiB aside unparsed, with its size and first 1 KiB', async () => {
    const ref = randomBatchref();
    await post('/add_batch', { ref, sku: randomSku(), qty: 10 }).expect(201);
    const message = oversizedMessage(ref, LIMIT + 1);
    const fits = oversizedMessage(ref, LIMIT).replace('"qty":3', '"qty":4');

    await publisher.publish('change_batch_quantity', message);
    await publisher.publish('change_batch_quantity', fits); // exactly 64 KiB: parsed
    await drain();

    expect(await purchased(ref)).to.equal(4);
    const letters = (await t.deadLetters.list(50)).filter((l) => l.payload.includes(ref));
    expect(letters).to.have.length(1);
    expect(letters[0].payload).to.equal(message.slice(0, 1024));
    expect(letters[0].reason).to.contain(`${LIMIT + 1} bytes`);
  });

  it('sets a stream entry over 64 KiB aside with its size and first 1 KiB, then acks it', async () => {
    const stream = `change_batch_quantity_test_${randomBytes(4).toString('hex')}`;
    // before the consumer's connection opens: a failure here leaves nothing open
    const ref = randomBatchref();
    await post('/add_batch', { ref, sku: randomSku(), qty: 10 }).expect(201);
    const message = oversizedMessage(ref, LIMIT + 1);
    const redis = new Redis(redisUrl(), { maxRetriesPerRequest: null });
    const options = { group: 'g', name: 'c1', claimIdleMs: 60_000, maxDeliveries: 5 };
    const consumer = new RedisStreamConsumer(
      redis,
      t.service.bus,
      t.deadLetters,
      t.service.logger,
      options,
      stream,
    );
    try {
      await consumer.start();
      await publisher.xadd(stream, '*', 'payload', message);
      await publisher.xadd(stream, '*', 'payload', JSON.stringify({ batchref: ref, qty: 4 }));

      await eventually(async () => expect(await purchased(ref)).to.equal(4));
      await eventually(async () => {
        const [pending] = (await publisher.xpending(stream, options.group)) as [number];
        expect(Number(pending)).to.equal(0);
      });
    } finally {
      await consumer.stop();
      redis.disconnect();
      await publisher.del(stream);
    }
    const letters = (await t.deadLetters.list(50)).filter((l) => l.payload.includes(ref));
    expect(
      letters.map((l) => [l.source, l.payload, l.reason.includes(`${LIMIT + 1} bytes`)]),
    ).to.deep.equal([[`stream:${stream}`, message.slice(0, 1024), true]]);
  });
});
