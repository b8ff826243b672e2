// Dead letters at incident scale (SPEC section 9, issue 20): paging with Link, groups, bulk
// replay and discard; order-safe replay (superseded changes, through pub/sub and a stream);
// outbound replays that keep their identity; made-up ids apart from senders'; the audit.
import { expect } from 'chai';
import { Redis } from 'ioredis';
import request from 'supertest';
import { bootstrap } from '../../src/allocation/bootstrap';
import { streamConsumer } from '../../src/allocation/config';
import { consoleSessionValue } from '../../src/allocation/entrypoints/http/auth';
import { RedisStreamConsumer } from '../../src/allocation/entrypoints/redis/redis_streamconsumer';
import { testDb } from '../support/db';
import { eventually } from '../support/eventually';
import { randomBatchref, randomOrderid, randomSku } from '../support/random_refs';
import { startTestService, type TestService } from '../support/in_process';
import { redisUrl } from '../support/redis';
import { silentLogger } from '../unit/fakes';

interface Letter {
  id: string;
  payload: string;
  reason: string;
  replayed_at: string | null;
}

describe('dead letters at incident scale', () => {
  let t: TestService;
  let publisher: Redis;
  before(async () => {
    t = await startTestService();
    publisher = new Redis(redisUrl());
    // The groups and the counts below are this file's own: close what earlier tests left open.
    await api().post('/dead_letters/discard').send({ reason: '' }).expect(200);
  });
  after(async () => {
    publisher.disconnect();
    await t.stop();
  });

  const api = () => request(t.app.callback());
  const addBatch = (ref: string, sku: string, qty: number) =>
    api().post('/add_batch').send({ ref, sku, qty }).expect(201);
  const purchased = async (sku: string) =>
    (await api().get(`/products/${sku}`).expect(200)).body.batches[0].purchased as number;
  const changeQuantity = (batchref: string, qty: number, extra: object = {}) =>
    publisher.publish('change_batch_quantity', JSON.stringify({ batchref, qty, ...extra }));
  const lettersOf = async (text: string, source = 'change_batch_quantity') => {
    const response = await api().get(`/dead_letters?limit=1000&source=${source}`).expect(200);
    return (response.body as Letter[]).filter((letter) => letter.payload.includes(text));
  };
  const oneLetterOf = (text: string, source?: string) =>
    eventually(async () => {
      const found = await lettersOf(text, source);
      expect(found).to.have.length(1);
      return found[0];
    });

  describe('350 inbound dead letters', () => {
    const tag = randomSku('incident');
    const refs = Array.from({ length: 300 }, (_, i) => `${tag}-b${i}`);

    before(async function () {
      this.timeout(120_000);
      for (const [i, ref] of refs.entries()) await changeQuantity(ref, 10 + i);
      for (let i = 0; i < 50; i++) {
        await publisher.publish('change_batch_quantity', `not json ${tag} ${i}`);
      }
      await eventually(async () => expect(await lettersOf(tag)).to.have.length(350), 90_000);
    });

    it('pages through all of them, newest first, by following Link rel="next"', async () => {
      const seen: string[] = [];
      let ours = 0;
      let next: string | undefined = '/dead_letters?limit=100&source=change_batch_quantity';
      let pages = 0;
      while (next !== undefined) {
        const response = await api().get(next).expect(200);
        const letters = response.body as Letter[];
        seen.push(...letters.map((letter) => letter.id));
        ours += letters.filter((letter) => letter.payload.includes(tag)).length;
        const link = response.headers.link as string | undefined;
        next = link ? /^<([^>]+)>; rel="next"$/.exec(link)?.[1] : undefined;
        if (link) expect(next, link).to.be.a('string');
        pages += 1;
      }

      // replayed ones of earlier tests are listed too (only discarded ones are not)
      expect(ours).to.equal(350);
      expect(pages).to.equal(Math.ceil(seen.length / 100));
      expect(new Set(seen).size).to.equal(seen.length);
      const numbers = seen.map(BigInt);
      expect(numbers.every((id, i) => i === 0 || id < numbers[i - 1])).to.equal(true);
    });

    it('filters by a reason prefix, paged too', async () => {
      const first = await api().get('/dead_letters?limit=40&reason=not%20JSON').expect(200);
      const rest = String(/^<([^>]+)>/.exec(String(first.headers.link))?.[1]);
      const second = await api().get(rest).expect(200);

      expect(first.body).to.have.length(40);
      expect(second.body).to.have.length(10);
      expect(second.headers.link).to.equal(undefined);
      for (const letter of [...first.body, ...second.body] as Letter[]) {
        expect(letter.reason).to.equal('not JSON');
      }
    });

    it('groups them by source and normalised reason', async () => {
      const groups = (await api().get('/dead_letters/groups').expect(200)).body as {
        source: string;
        reason: string;
        count: number;
        first_at: string;
        last_at: string;
      }[];

      expect(groups.map(({ source, reason, count }) => ({ source, reason, count }))).to.deep.equal([
        { source: 'change_batch_quantity', reason: 'UnknownBatch: Unknown batch *', count: 300 },
        { source: 'change_batch_quantity', reason: 'not JSON', count: 50 },
      ]);
      expect(Date.parse(groups[0].first_at)).to.be.at.most(Date.parse(groups[0].last_at));
    });

    it('replays the 300 of one reason once their batches exist, once; the other 50 stay', async function () {
      this.timeout(120_000);
      const sku = randomSku('incident');
      for (const ref of refs) await addBatch(ref, sku, 1);
      const filter = { source: 'change_batch_quantity', reason: 'UnknownBatch' };

      const first = await api().post('/dead_letters/replay').send(filter);
      const second = await api().post('/dead_letters/replay').send(filter);

      expect(first.status).to.equal(200);
      expect(first.body).to.deep.equal({ matched: 300, replayed: 300, failed: 0, superseded: 0 });
      expect(second.body).to.deep.equal({ matched: 0, replayed: 0, failed: 0, superseded: 0 });
      const product = (await api().get(`/products/${sku}`).expect(200)).body;
      const quantities = new Map(
        product.batches.map((b: { ref: string; purchased: number }) => [b.ref, b.purchased]),
      );
      expect(refs.map((ref) => quantities.get(ref))).to.deep.equal(refs.map((_, i) => 10 + i));
      const malformed = await lettersOf(`not json ${tag}`);
      expect(malformed).to.have.length(50);
      expect(malformed.every((letter) => letter.replayed_at === null)).to.equal(true);
      const groups = (await api().get('/dead_letters/groups').expect(200)).body;
      expect(groups).to.have.length(1);
      expect(groups[0]).to.include({ reason: 'not JSON', count: 50 });
    });

    it('discards the other 50 by filter, once', async () => {
      const filter = { source: 'change_batch_quantity', group: 'not JSON' };

      const first = await api().post('/dead_letters/discard').send(filter);
      const second = await api().post('/dead_letters/discard').send(filter);

      expect(first.status).to.equal(200);
      expect(first.body).to.deep.equal({ matched: 50, discarded: 50 });
      expect(second.body).to.deep.equal({ matched: 0, discarded: 0 });
      expect(await lettersOf(`not json ${tag}`)).to.deep.equal([]);
    });
  });

  describe('bulk filters', () => {
    it('refuses an empty filter, a bad id and a wrong type with 400 and a message', async () => {
      for (const body of [{}, { force: true }, { ids: ['x1'] }, { source: 5 }, { ids: 'all' }]) {
        for (const action of ['replay', 'discard']) {
          const response = await api().post(`/dead_letters/${action}`).send(body);
          expect(response.status, JSON.stringify(body)).to.equal(400);
          expect(response.body.message).to.be.a('string');
        }
      }
    });

    it('groups reasons that differ only in ids and numbers, and discards a group by its reason', async () => {
      const source = `test-groups-${randomSku()}`;
      await t.deadLetters.add(source, '{}', 'Timeout after 5000 ms on order-1a2b');
      await t.deadLetters.add(source, '{}', 'Timeout after 30000 ms on order-9f');
      await t.deadLetters.add(source, '{}', 'Timeout: gave up');

      const groups = (await api().get('/dead_letters/groups').expect(200)).body as {
        source: string;
        reason: string;
        count: number;
      }[];
      const discarded = await api()
        .post('/dead_letters/discard')
        .send({ source, group: 'Timeout after * ms on *' });

      const ours = groups.filter((group) => group.source === source);
      expect(ours.map(({ reason, count }) => ({ reason, count }))).to.deep.equal([
        { reason: 'Timeout after * ms on *', count: 2 },
        { reason: 'Timeout: gave up', count: 1 },
      ]);
      expect(discarded.body).to.deep.equal({ matched: 2, discarded: 2 });
    });

    it('acts on the ids given, and only on open ones', async () => {
      const [a, b] = [
        await t.deadLetters.add('test-ids', '{}', 'one'),
        await t.deadLetters.add('test-ids', '{}', 'two'),
      ];

      const first = await api()
        .post('/dead_letters/discard')
        .send({ ids: [a, Number(b)] });
      const again = await api()
        .post('/dead_letters/discard')
        .send({ ids: [a] });

      expect(first.body).to.deep.equal({ matched: 2, discarded: 2 });
      expect(again.body).to.deep.equal({ matched: 0, discarded: 0 });
    });
  });

  describe('two operators at once', () => {
    it('never replay one dead letter twice: every letter is matched by exactly one of them', async function () {
      this.timeout(60_000);
      const [sku, tag] = [randomSku('twice'), randomSku('twice')];
      const refs = Array.from({ length: 60 }, (_, i) => `${tag}-${i}`);
      for (const ref of refs) await addBatch(ref, sku, 1);
      const source = `test-twice-${tag}`;
      for (const [i, ref] of refs.entries()) {
        await t.deadLetters.add(source, JSON.stringify({ batchref: ref, qty: 2 + i }), 'late');
      }

      const [a, b] = await Promise.all([
        api().post('/dead_letters/replay').send({ source }),
        api().post('/dead_letters/replay').send({ source }),
      ]);

      expect(a.body.matched + b.body.matched).to.equal(60);
      expect(a.body.replayed + b.body.replayed).to.equal(60);
      const product = (await api().get(`/products/${sku}`).expect(200)).body;
      expect(product.version).to.equal(120); // 60 batches added, 60 quantities changed once
    });
  });

  describe('order-safe replay', () => {
    it('answers superseded for a change older than one applied since; forced, it applies', async () => {
      const [sku, ref] = [randomSku('order'), randomBatchref('order7')];
      await changeQuantity(ref, 5);
      const letter = await oneLetterOf(ref);
      await addBatch(ref, sku, 10);
      await changeQuantity(ref, 7);
      await eventually(async () => expect(await purchased(sku)).to.equal(7));

      const replay = await api().post(`/dead_letters/${letter.id}/replay`);
      const quantityAfterReplay = await purchased(sku);
      const forced = await api().post(`/dead_letters/${letter.id}/replay?force=true`);

      expect(replay.status).to.equal(202);
      expect(replay.body).to.deep.equal({ id: letter.id, status: 'superseded' });
      expect(quantityAfterReplay).to.equal(7);
      expect(forced.body).to.deep.equal({ id: letter.id, status: 'replayed' });
      expect(await purchased(sku)).to.equal(5);
    });

    it('counts superseded changes in a bulk replay, leaves them open, and forces them on request', async () => {
      const [sku, ref] = [randomSku('order'), randomBatchref('order8')];
      await changeQuantity(ref, 3);
      const letter = await oneLetterOf(ref);
      await addBatch(ref, sku, 10);
      await changeQuantity(ref, 8);
      await eventually(async () => expect(await purchased(sku)).to.equal(8));

      const bulk = await api()
        .post('/dead_letters/replay')
        .send({ ids: [letter.id] });
      const forced = await api()
        .post('/dead_letters/replay')
        .send({ ids: [letter.id], force: true });

      expect(bulk.body).to.deep.equal({ matched: 1, replayed: 0, failed: 0, superseded: 1 });
      expect(forced.body).to.deep.equal({ matched: 1, replayed: 1, failed: 0, superseded: 0 });
      expect(await purchased(sku)).to.equal(3);
    });

    it('does the same for a stream entry, which keeps its stream position when dead-lettered', async () => {
      // The service's own stream consumer (INBOUND_TRANSPORT=stream), on a stream of this test.
      const stream = `change_batch_quantity_test_${randomSku()}`;
      const connection = new Redis(redisUrl());
      const consumer = new RedisStreamConsumer(
        connection,
        t.service.bus,
        t.deadLetters,
        silentLogger,
        { ...streamConsumer(), maxDeliveries: 1 },
        stream,
      );
      await consumer.start();
      try {
        const [sku, ref] = [randomSku('stream'), randomBatchref('stream9')];
        await publisher.xadd(stream, '*', 'payload', JSON.stringify({ batchref: ref, qty: 4 }));
        const letter = await oneLetterOf(ref, `stream:${stream}`);
        await addBatch(ref, sku, 10);
        await publisher.xadd(stream, '*', 'payload', JSON.stringify({ batchref: ref, qty: 9 }));
        await eventually(async () => expect(await purchased(sku)).to.equal(9));

        const replay = await api().post(`/dead_letters/${letter.id}/replay`);
        const quantityAfterReplay = await purchased(sku);
        const forced = await api().post(`/dead_letters/${letter.id}/replay?force=true`);

        expect(replay.body).to.deep.equal({ id: letter.id, status: 'superseded' });
        expect(quantityAfterReplay).to.equal(9);
        expect(forced.body).to.deep.equal({ id: letter.id, status: 'replayed' });
        expect(await purchased(sku)).to.equal(4);
      } finally {
        await consumer.stop();
        connection.disconnect();
        await publisher.del(stream);
      }
    });

    it('runs the stream consumer when INBOUND_TRANSPORT=stream, which dead-letters with positions', async () => {
      const saved = { ...process.env };
      Object.assign(process.env, {
        INBOUND_TRANSPORT: 'stream',
        STREAM_MAX_DELIVERIES: '1',
        CONSUMER_GROUP: `dead-letters-${randomSku()}`,
      });
      const streamed = await startTestService().finally(() => {
        process.env = saved;
      });
      try {
        const ref = randomBatchref('viaconfig1');
        await publisher.xadd(
          'change_batch_quantity',
          '*',
          'payload',
          JSON.stringify({ batchref: ref, qty: 4 }),
        );
        const letter = await oneLetterOf(ref, 'stream:change_batch_quantity');
        const position = await t.service
          .db()('dead_letters')
          .where({ id: letter.id })
          .first('position');
        expect(position.position).to.match(/^\d{20}-\d{20}$/);
      } finally {
        await streamed.stop();
      }
    });

    it('replays a change that nothing newer superseded', async () => {
      const [sku, ref] = [randomSku('order'), randomBatchref('order6')];
      await changeQuantity(ref, 6);
      const letter = await oneLetterOf(ref);
      await addBatch(ref, sku, 10);

      const replay = await api().post(`/dead_letters/${letter.id}/replay`);

      expect(replay.body).to.deep.equal({ id: letter.id, status: 'replayed' });
      expect(await purchased(sku)).to.equal(6);
    });
  });

  describe('ids', () => {
    it("a sender's message id equal to a replay's made-up id does not make the replay a no-op", async () => {
      const [sku, ref, decoy] = [randomSku('ids'), randomBatchref('ids1'), randomBatchref('ids2')];
      const id = await t.deadLetters.add(
        'change_batch_quantity',
        JSON.stringify({ batchref: ref, qty: 4 }),
        'UnknownBatch: Unknown batch',
      );
      await addBatch(ref, sku, 10);
      await addBatch(decoy, sku, 10);
      // every form the service's own ids for this dead letter had or have
      for (const [i, messageId] of [`dead-letter-${id}`, `dead-letter:${id}`].entries()) {
        await changeQuantity(decoy, 20 + i, { message_id: messageId });
      }
      await eventually(async () => {
        const batches = (await api().get(`/products/${sku}`).expect(200)).body.batches;
        expect(batches.find((b: { ref: string }) => b.ref === decoy).purchased).to.equal(21);
      });

      const replay = await api().post(`/dead_letters/${id}/replay`);

      expect(replay.body).to.deep.equal({ id, status: 'replayed' });
      const batches = (await api().get(`/products/${sku}`).expect(200)).body.batches;
      expect(batches.find((b: { ref: string }) => b.ref === ref).purchased).to.equal(4);
    });
  });

  describe('outbound', () => {
    it('publishes a replayed line_allocated with its original message_id and occurred_at', async () => {
      const db = t.service.db();
      const [sku, orderid] = [randomSku('out'), randomOrderid('out')];
      await addBatch(randomBatchref(), sku, 10);
      await api().post('/allocate').send({ orderid, sku, qty: 1 }).expect(202);
      const row = await eventually(async () => {
        const found = await db('outbox')
          .where({ key: sku, handler: 'line_allocated' })
          .whereNotNull('delivered_at')
          .first();
        expect(found).to.not.equal(undefined);
        return found;
      });
      // As the relay leaves a message it gave up on: out of the outbox, into the dead letters.
      const outboxId = String(9_000_000_000_000 + Math.floor(Math.random() * 1e9));
      const occurredAt = '2026-01-02T03:04:05.678Z';
      const [{ id }] = await db('dead_letters')
        .insert({
          source: 'outbox:line_allocated',
          payload: JSON.stringify(row.payload),
          reason: 'Error: gave up',
          outbox_key: sku,
          outbox_type: row.type,
          outbox_handler: 'line_allocated',
          correlation_id: row.correlation_id,
          outbox_id: outboxId,
          occurred_at: occurredAt,
        })
        .returning('id');
      const subscriber = new Redis(redisUrl());
      const received: Record<string, unknown>[] = [];
      subscriber.on('message', (_channel: string, message: string) => {
        const parsed = JSON.parse(message) as Record<string, unknown>;
        if (parsed.orderid === orderid) received.push(parsed);
      });
      await subscriber.subscribe('line_allocated');
      try {
        const replay = await api().post(`/dead_letters/${id}/replay`);

        expect(replay.body).to.deep.equal({ id: String(id), status: 'requeued' });
        await eventually(async () => expect(received).to.have.length(1));
        expect(received[0]).to.include({ message_id: outboxId, occurred_at: occurredAt });
      } finally {
        subscriber.disconnect();
      }
    });
  });

  describe('outbound in bulk', () => {
    it('puts every matching outbound letter back, each with its original message_id', async () => {
      const db = t.service.db();
      const [sku, orderid] = [randomSku('outbulk'), randomOrderid('outbulk')];
      await addBatch(randomBatchref(), sku, 10);
      await api().post('/allocate').send({ orderid, sku, qty: 1 }).expect(202);
      const row = await eventually(async () => {
        const found = await db('outbox').where({ key: sku, handler: 'line_allocated' }).first();
        expect(found?.delivered_at).to.not.equal(null);
        return found;
      });
      const source = `outbox:line_allocated`;
      const base = 9_100_000_000_000 + Math.floor(Math.random() * 1e9);
      const outboxIds = [String(base), String(base + 1)];
      const ids = await Promise.all(
        outboxIds.map(async (outboxId) => {
          const [{ id }] = await db('dead_letters')
            .insert({
              source,
              payload: JSON.stringify(row.payload),
              reason: `Error: gave up on ${sku}`,
              outbox_key: sku,
              outbox_type: row.type,
              outbox_handler: 'line_allocated',
              outbox_id: outboxId,
              occurred_at: row.created_at,
            })
            .returning('id');
          return String(id);
        }),
      );
      const subscriber = new Redis(redisUrl());
      const received: string[] = [];
      subscriber.on('message', (_channel: string, message: string) => {
        const parsed = JSON.parse(message) as { orderid: string; message_id: string };
        if (parsed.orderid === orderid) received.push(parsed.message_id);
      });
      await subscriber.subscribe('line_allocated');
      try {
        const replay = await api().post('/dead_letters/replay').send({ source, ids });

        expect(replay.body).to.deep.equal({ matched: 2, replayed: 2, failed: 0, superseded: 0 });
        await eventually(async () => expect(received.sort()).to.deep.equal(outboxIds));
      } finally {
        subscriber.disconnect();
      }
    });
  });

  describe('audit', () => {
    const TOKEN = 'audit-test-admin-token';
    const bearer = `Bearer ${TOKEN}`;

    it('records every operator action with its actor: open, admin, console', async () => {
      const service = bootstrap({ db: await testDb(), auth: { adminToken: TOKEN } });
      const guarded = request(service.app().callback());
      try {
        const letters = await Promise.all(
          ['a', 'b', 'c', 'd'].map((n) => t.deadLetters.add('test-audit', '{}', `audit ${n}`)),
        );
        await api().delete(`/dead_letters/${letters[0]}`).expect(204);
        await guarded
          .delete(`/dead_letters/${letters[1]}`)
          .set('Authorization', bearer)
          .expect(204);
        await guarded
          .post(`/console/dead_letters/${letters[2]}/discard`)
          .set('Cookie', `console_session=${consoleSessionValue(TOKEN)}`)
          .set('Sec-Fetch-Site', 'same-origin')
          .type('form')
          .send({})
          .expect(302);
        await guarded
          .post('/dead_letters/replay')
          .set('Authorization', bearer)
          .send({ ids: [letters[3]] })
          .expect(200);
        for (const action of ['pause', 'resume']) {
          await guarded
            .post(`/deliveries/email/${action}`)
            .set('Authorization', bearer)
            .expect(200);
        }
        await guarded.get('/audit').expect(401);

        const audit = await guarded.get('/audit?limit=6').set('Authorization', bearer).expect(200);

        expect(
          audit.body.map(({ actor, action, target, result }: Record<string, string>) => ({
            actor,
            action,
            target,
            // a resumed handler whose transport is down shows its circuit instead
            result: result === 'circuit_open' ? 'running' : result,
          })),
        ).to.deep.equal([
          { actor: 'admin', action: 'resume', target: 'email', result: 'running' },
          { actor: 'admin', action: 'pause', target: 'email', result: 'paused' },
          {
            actor: 'admin',
            action: 'bulk_replay',
            target: JSON.stringify({ ids: [letters[3]] }),
            result: JSON.stringify({ matched: 1, replayed: 0, failed: 1, superseded: 0 }),
          },
          { actor: 'console', action: 'discard', target: letters[2], result: 'discarded' },
          { actor: 'admin', action: 'discard', target: letters[1], result: 'discarded' },
          { actor: 'open', action: 'discard', target: letters[0], result: 'discarded' },
        ]);
        expect(Date.parse(audit.body[0].at)).to.be.a('number').and.not.NaN;
        await guarded.get('/audit?limit=0').set('Authorization', bearer).expect(400);
      } finally {
        await service.close();
      }
    });
  });
});
