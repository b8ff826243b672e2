import { expect } from 'chai';
import { Redis } from 'ioredis';
import request from 'supertest';
import { EmailNotifications } from '../../src/allocation/adapters/smtp/notifications';
import { eventually } from '../support/eventually';
import { randomBatchref, randomOrderid, randomSku } from '../support/random_refs';
import { startSmtpServer, type TestSmtpServer } from '../support/smtp_server';
import { startTestService, type TestService } from '../support/in_process';
import { redisUrl } from '../support/redis';

describe('dead letters', () => {
  let t: TestService;
  let smtp: TestSmtpServer;
  let email: EmailNotifications;
  let publisher: Redis;
  before(async () => {
    smtp = await startSmtpServer();
    email = new EmailNotifications({ host: '127.0.0.1', port: smtp.port });
    t = await startTestService({ notifications: email });
    publisher = new Redis(redisUrl());
  });
  after(async () => {
    publisher.disconnect();
    await t.stop();
    email.close();
    await smtp.close();
  });

  const api = () => request(t.app.callback());
  const addBatch = (ref: string, sku: string, qty: number) =>
    api().post('/add_batch').send({ ref, sku, qty }).expect(201);
  const lettersOf = async (text: string, source?: string) => {
    const query = source ? `&source=${encodeURIComponent(source)}` : '';
    const response = await api().get(`/dead_letters?limit=1000${query}`).expect(200);
    return (response.body as { id: string; payload: string; reason: string }[]).filter((l) =>
      l.payload.includes(text),
    );
  };

  describe('routes', () => {
    it('lists newest first, filtered by source, with payloads cut to 4 KiB', async () => {
      const source = `test-${randomSku()}`;
      const big = `{"big": "${'x'.repeat(10_000)}"}`;
      const first = await t.deadLetters.add(source, '{"first": true}', 'reason one');
      const second = await t.deadLetters.add(source, big, 'reason two');
      await t.deadLetters.add('elsewhere', '{}', 'other source');

      const response = await api().get(`/dead_letters?source=${source}&limit=10`);

      expect(response.status).to.equal(200);
      expect(response.body.map((l: { id: string }) => l.id)).to.deep.equal([second, first]);
      expect(response.body[0].payload).to.equal(big.slice(0, 4096));
      expect(response.body[1]).to.include({
        id: first,
        source,
        payload: '{"first": true}',
        reason: 'reason one',
        attempts: 1,
        replayed_at: null,
      });
      expect(response.body[1].created_at).to.be.a('string');
    });

    it('refuses a source the database cannot compare (NUL) with 400, not 500', async () => {
      const response = await api().get('/dead_letters?source=%00');

      expect(response.status).to.equal(400);
      expect(response.body).to.have.property('message');
    });

    it('refuses a limit over 1000 or below 1 with 400', async () => {
      await api().get('/dead_letters?limit=1001').expect(400);
      await api().get('/dead_letters?limit=0').expect(400);
    });

    it('shows one dead letter with its whole payload, and 404 for an unknown id', async () => {
      const big = `{"big": "${'y'.repeat(10_000)}"}`;
      const id = await t.deadLetters.add('test', big, 'too big');

      const found = await api().get(`/dead_letters/${id}`);
      const unknown = await api().get('/dead_letters/999999999');
      const notAnId = await api().get('/dead_letters/abc');

      expect(found.status).to.equal(200);
      expect(found.body).to.include({ id, source: 'test', payload: big, reason: 'too big' });
      expect(unknown.status).to.equal(404);
      expect(unknown.body.message).to.be.a('string');
      expect(notAnId.status).to.equal(404);
    });

    it('deletes with 204; the letter is then gone, and a second delete is a 404', async () => {
      const marker = randomSku('delete');
      const id = await t.deadLetters.add('test', marker, 'to delete');

      const deleted = await api().delete(`/dead_letters/${id}`);

      expect(deleted.status).to.equal(204);
      await api().get(`/dead_letters/${id}`).expect(404);
      expect(await lettersOf(marker)).to.deep.equal([]);
      await api().delete(`/dead_letters/${id}`).expect(404);
      await api().post(`/dead_letters/${id}/replay`).expect(404);
    });

    it('answers a replay of an unknown id with 404', async () => {
      const response = await api().post('/dead_letters/999999999/replay');

      expect(response.status).to.equal(404);
      expect(response.body.message).to.be.a('string');
    });
  });

  describe('inbound', () => {
    it('replays a message for an unknown batch once the batch exists, and only once', async () => {
      const [sku, ref] = [randomSku(), randomBatchref('later')];
      const payload = JSON.stringify({ batchref: ref, qty: 4 });
      await publisher.publish('change_batch_quantity', payload);
      const [letter] = await eventually(async () => {
        const found = await lettersOf(ref, 'change_batch_quantity');
        expect(found).to.have.length(1);
        return found;
      });
      expect(letter.reason).to.contain('UnknownBatch');
      await addBatch(ref, sku, 10);

      const replay = await api().post(`/dead_letters/${letter.id}/replay`);
      const again = await api().post(`/dead_letters/${letter.id}/replay`);

      expect(replay.status).to.equal(202);
      expect(replay.body).to.deep.equal({ id: letter.id, status: 'replayed' });
      expect(again.status).to.equal(202);
      expect(again.body).to.deep.equal({ id: letter.id, status: 'already replayed' });
      const product = await api().get(`/products/${sku}`).expect(200);
      expect(product.body.batches[0].purchased).to.equal(4);
      const shown = await api().get(`/dead_letters/${letter.id}`).expect(200);
      expect(shown.body.replayed_at).to.be.a('string');
    });

    it('makes a replay that fails again a new dead letter', async () => {
      const ref = randomBatchref('never');
      const id = await t.deadLetters.add(
        'change_batch_quantity',
        JSON.stringify({ batchref: ref, qty: 1 }),
        'UnknownBatch',
      );

      const replay = await api().post(`/dead_letters/${id}/replay`);

      expect(replay.status).to.equal(202);
      expect(replay.body).to.include({ id, status: 'failed' });
      expect(replay.body.reason).to.contain('UnknownBatch');
      const letters = await lettersOf(ref);
      expect(letters.map((l) => l.id)).to.deep.equal([replay.body.dead_letter_id, id]);
    });
  });

  describe('outbound', () => {
    const mailsFor = (sku: string) =>
      smtp.received.filter((m) => m.data.includes(`Out of stock for ${sku}`));
    // a new stock-out each time: a batch first (one notification per stock-out, SPEC section 5)
    const outOfStock = async (sku: string) => {
      await addBatch(randomBatchref(), sku, 1);
      await api().post('/allocate').send({ orderid: randomOrderid(), sku, qty: 99 }).expect(202);
    };

    it('dead-letters an email refused with 550, still sends later ones, and replay sends it once', async () => {
      const sku = randomSku();
      smtp.rejecting = true;
      await outOfStock(sku);
      const [letter] = await eventually(async () => {
        const found = await lettersOf(sku, 'outbox:email');
        expect(found).to.have.length(1);
        return found;
      });
      expect(letter.reason).to.contain('550');
      smtp.rejecting = false;

      await outOfStock(sku);
      await eventually(async () => expect(mailsFor(sku)).to.have.length(1));
      const replay = await api().post(`/dead_letters/${letter.id}/replay`);
      await eventually(async () => expect(mailsFor(sku)).to.have.length(2));
      const again = await api().post(`/dead_letters/${letter.id}/replay`);
      // Delivery keeps order per product: once this later email is in, a second copy of the
      // replayed one would have been too.
      await outOfStock(sku);
      await eventually(async () => expect(mailsFor(sku)).to.have.length(3));

      expect(replay.status).to.equal(202);
      expect(replay.body).to.deep.equal({ id: letter.id, status: 'requeued' });
      expect(again.body).to.deep.equal({ id: letter.id, status: 'already replayed' });
      expect(mailsFor(sku)).to.have.length(3);
    });
  });
});
