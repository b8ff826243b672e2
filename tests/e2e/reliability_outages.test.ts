// Outages of the service's dependencies, on a real service process (main.js 'all'): Redis going
// away in the middle of a load, and PostgreSQL going away and coming back. Each test starts its
// own Redis or PostgreSQL (the wrapper's cannot be stopped from here). Assertions are on counts
// and statuses, never on timings; every wait has a deadline so a hang fails instead of blocking.
import { expect } from 'chai';
import { Redis } from 'ioredis';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type EmbeddedPostgresHandle, startEmbeddedPostgres } from '../../tools/embedded_postgres';
import { type LocalRedisHandle, startLocalRedis } from '../../tools/local_redis';
import { testDb } from '../support/db';
import { eventually } from '../support/eventually';
import { randomBatchref, randomOrderid, randomSku } from '../support/random_refs';
import { startServiceProcess, type ServiceProcess } from '../support/processes';
import { startGate, type Gate } from '../support/tcp_gate';
import { allocateRequests, countBy, send, sendAll, type Outcome } from '../support/requests';

// From dist/tests/e2e back to the repository.
const REPO_ROOT = path.resolve(__dirname, '../../..');
const call = (url: string, method: 'GET' | 'POST', body?: unknown) => send({ url, method, body });

function messageOf(outcome: Outcome): unknown {
  return (outcome.body as { message?: unknown } | null)?.message;
}

async function purchasedQuantity(ref: string): Promise<number | undefined> {
  const db = await testDb();
  const row = await db('batches').first('purchased_quantity').where({ reference: ref });
  return row?.purchased_quantity as number | undefined;
}

describe('outages', () => {
  describe('of Redis', () => {
    let redis: LocalRedisHandle | undefined;
    let gate: Gate | undefined;
    let service: ServiceProcess | undefined;
    const clients: Redis[] = [];

    after(async () => {
      clients.forEach((client) => client.disconnect());
      await service?.stop();
      await gate?.close();
      await redis?.stop();
    });

    /** A direct connection to our Redis that records what arrives on line_allocated. */
    async function subscribe(url: string, into: { orderid?: unknown }[]): Promise<Redis> {
      const subscriber = new Redis(url, { retryStrategy: () => null }); // one life: no resubscribing
      clients.push(subscriber);
      subscriber.on('error', () => undefined); // expected when Redis is stopped under it
      subscriber.on('message', (_channel: string, payload: string) => {
        into.push(JSON.parse(payload) as { orderid?: unknown });
      });
      await subscriber.subscribe('line_allocated');
      return subscriber;
    }

    it('allocating goes on while Redis is down and every line_allocated is published when it is back', async function () {
      this.timeout(90_000);
      redis = await startLocalRedis({ log: () => undefined });
      gate = await startGate(redis.port);
      // Short backoff so delivery resumes soon after Redis returns.
      service = await startServiceProcess({
        REDIS_URL: gate.url,
        OUTBOX_RETRY_BASE_MS: '100',
        OUTBOX_RETRY_MAX_MS: '1000',
      });
      const received: { orderid?: unknown }[] = [];
      const firstSubscriber = await subscribe(redis.url, received);
      const [sku, ref] = [randomSku('redis-outage'), randomBatchref('redis-outage')];
      const [otherSku, otherRef] = [randomSku('redis-cbq'), randomBatchref('redis-cbq')];
      const batch = { ref, sku, qty: 1000 };
      expect((await call(`${service.url}/add_batch`, 'POST', batch)).status).to.equal(201);
      const other = { ref: otherRef, sku: otherSku, qty: 10 };
      expect((await call(`${service.url}/add_batch`, 'POST', other)).status).to.equal(201);
      const orderids = Array.from({ length: 200 }, (_, i) => randomOrderid(`redis-outage-${i}`));
      const requests = allocateRequests(service.url, sku, orderids);
      const mine = () => received.filter((m) => orderids.includes(m.orderid as string));

      // 50 with Redis up, 75 while it is being stopped, 75 once it is certainly down.
      const before = await sendAll(requests.slice(0, 50), 4);
      const [, during] = await Promise.all([redis.stop(), sendAll(requests.slice(50, 125), 4)]);
      const readyWhileDown = await call(`${service.url}/readyz`, 'GET');
      const after = await sendAll(requests.slice(125), 4);
      const heardBeforeRestart = mine().length;
      firstSubscriber.disconnect();
      gate.shut = true;
      await redis.start();
      await subscribe(redis.url, received);
      gate.shut = false;
      await eventually(async () => {
        expect(new Set(mine().map((m) => m.orderid)).size).to.equal(orderids.length);
      }, 20_000).catch(() => undefined); // the figures and assertions below say what is missing

      const outcomes = [...before, ...during, ...after];
      const statuses = countBy(outcomes, (o) => o.status);
      const batchrefs = countBy(outcomes, (o) =>
        String((o.body as { batchref?: unknown })?.batchref),
      );
      const published = mine();
      const distinct = new Set(published.map((m) => m.orderid));
      // Tells a message the relay never sent from one it sent while nobody listened (or that a
      // relay in another process on this database, with another REDIS_URL, sent to its Redis:
      // any relay delivers every process's outbox, so this file must run alone, as it does).
      const db = await testDb();
      const undelivered = await db('outbox')
        .where({ key: sku })
        .whereNull('delivered_at')
        .count({ n: '*' })
        .first();
      console.log(
        `      redis outage: sent ${requests.length}, 202s ${statuses['202'] ?? 0}, ` +
          `published ${published.length} (${published.length - heardBeforeRestart} after ` +
          `Redis came back), lost ${orderids.length - distinct.size}, ` +
          `duplicates ${published.length - distinct.size}, ` +
          `left undelivered in the outbox ${undelivered?.n}`,
      );
      // The API needs only PostgreSQL to allocate: events wait in the outbox.
      const refused = outcomes.filter((o) => o.status !== 202).slice(0, 5);
      expect(statuses, JSON.stringify(refused)).to.deep.equal({ '202': 200 });
      expect(batchrefs).to.deep.equal({ [ref]: 200 });
      expect(readyWhileDown.status, JSON.stringify(readyWhileDown.body)).to.equal(503);
      expect(messageOf(readyWhileDown)).to.be.a('string');
      expect(orderids.length - distinct.size, 'line_allocated messages lost').to.equal(0);

      // The consumer resubscribed by itself: its message takes effect. It may not be back on the
      // channel when we first publish, and pub/sub drops what nobody hears, so we publish again
      // (the same quantity, so repeats change nothing) until it shows.
      const publisher = new Redis(redis.url);
      clients.push(publisher);
      await eventually(async () => {
        const message = JSON.stringify({ batchref: otherRef, qty: 7 });
        await publisher.publish('change_batch_quantity', message);
        await sleep(200);
        expect(await purchasedQuantity(otherRef)).to.equal(7);
      }, 20_000);

      expect(service.isRunning(), service.output()).to.equal(true);
    });
  });

  describe('of PostgreSQL', () => {
    let postgres: EmbeddedPostgresHandle | undefined;
    let service: ServiceProcess | undefined;

    after(async () => {
      await service?.stop();
      await postgres?.stop();
    });

    it('the service answers 503 while PostgreSQL is down and recovers, same process, when it is back', async function () {
      this.timeout(120_000);
      postgres = await startEmbeddedPostgres({
        dataDir: path.join(REPO_ROOT, '.data', 'postgres-outage-test'),
        log: () => undefined,
      });
      service = await startServiceProcess({ DATABASE_URL: postgres.url });
      const pid = service.child.pid;
      const [sku, ref] = [randomSku('pg-outage'), randomBatchref('pg-outage')];
      expect(
        (await call(`${service.url}/add_batch`, 'POST', { ref, sku, qty: 100 })).status,
      ).to.equal(201);
      const first = await call(`${service.url}/allocate`, 'POST', {
        orderid: randomOrderid('pg-1'),
        sku,
        qty: 1,
      });
      expect(first).to.deep.equal({ status: 202, body: { batchref: ref } });

      await postgres.stop();
      const ready = await call(`${service.url}/readyz`, 'GET');
      const allocate = await call(`${service.url}/allocate`, 'POST', {
        orderid: randomOrderid('pg-2'),
        sku,
        qty: 1,
      });
      const health = await call(`${service.url}/healthz`, 'GET');

      expect(ready.status, JSON.stringify(ready.body)).to.equal(503);
      expect(messageOf(ready)).to.be.a('string').and.not.empty;
      // Unavailable, not broken: a client may retry, and nothing hangs.
      expect(allocate.status, JSON.stringify(allocate.body)).to.equal(503);
      expect(messageOf(allocate)).to.be.a('string').and.not.empty;
      expect(health.status).to.equal(200);
      expect(service.isRunning(), service.output()).to.equal(true);

      await postgres.start();
      await eventually(async () => {
        expect((await call(`${service!.url}/readyz`, 'GET')).status).to.equal(200);
      }, 30_000);
      const again = await call(`${service.url}/allocate`, 'POST', {
        orderid: randomOrderid('pg-3'),
        sku,
        qty: 1,
      });

      expect(again).to.deep.equal({ status: 202, body: { batchref: ref } });
      expect(service.isRunning(), service.output()).to.equal(true);
      expect(service.child.pid).to.equal(pid);
      console.log(
        `      postgres outage: readyz ${ready.status}, allocate ${allocate.status}, healthz ${health.status}; after restart: allocate ${again.status}, same pid ${pid}`,
      );
    });
  });
});
