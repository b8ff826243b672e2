// Two outbox relays (two processes' worth: each its own connection pool, KnexOutbox and lease
// holder) race for the relay lease on the real database while messages keep arriving. Midway
// the leader is cut off from the database while it is delivering (its pool is destroyed, as in
// a network partition): its lease lapses, and the other must take over. Assertions are on what was published: every
// message, and per product in commit order; every wait is bounded.
import { expect } from 'chai';
import knex, { type Knex } from 'knex';
import { setTimeout as sleep } from 'node:timers/promises';
import { KnexOutbox } from '../../src/allocation/adapters/postgres/knex_outbox';
import type { Allocated } from '../../src/allocation/domain/events';
import { OutboxRelay } from '../../src/allocation/service_layer/outbox';
import type { PendingMessage } from '../../src/allocation/service_layer/ports';
import { testDb } from '../support/db';
import { eventually } from '../support/eventually';
import { randomOrderid, randomSku } from '../support/random_refs';
import { silentLogger } from '../unit/fakes';

const LEASE_MS = 2_000;
const BATCH = 50;
const quiet = { warn: () => undefined, error: () => undefined, debug: () => undefined };

interface Publication {
  relay: string;
  messageId: string;
  sku: string;
}

async function appendMessages(db: Knex, skus: string[], perSku: number): Promise<void> {
  const rows = Array.from({ length: perSku }, (_, i) =>
    skus.map((sku) => ({
      key: sku,
      type: 'Allocated',
      handler: 'line_allocated',
      payload: JSON.stringify({ orderid: randomOrderid(String(i)), sku, qty: 1, batchref: 'b' }),
    })),
  ).flat();
  await db('outbox').insert(rows);
}

describe('relay lease', () => {
  it('two relays racing for the lease deliver every message, in order per product', async function () {
    this.timeout(30_000);
    const db = await testDb();
    const skus = Array.from({ length: 8 }, (_, i) => randomSku(`lease-${i}`));
    const mine = new Set(skus);
    const published: Publication[] = [];
    // The first publication of one message, well into the run, waits until the test opens the
    // gate: its relay is the leader that gets cut off.
    let gated: string | undefined;
    let frozen: string | undefined;
    let openGate: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    let gateReached: () => void = () => undefined;
    const reached = new Promise<void>((resolve) => (gateReached = resolve));

    const relays = ['a', 'b'].map((name) => {
      const pool = knex({
        client: 'pg',
        connection: process.env.DATABASE_URL,
        pool: { min: 0, max: 3 },
        acquireConnectionTimeout: 1_000, // the cut-off pool fails fast
        log: quiet, // the cut-off pool's failures are expected
      });
      const outbox = new KnexOutbox(pool, LEASE_MS);
      const publish = async ({ event, id: messageId }: PendingMessage) => {
        const { sku } = event as Allocated;
        if (!mine.has(sku)) return; // another test's leftover: not counted
        if (gated === undefined && published.length >= 100) gated = messageId;
        if (messageId === gated && frozen === undefined) {
          frozen = name;
          gateReached();
          await gate;
        }
        // a little latency, so drains overlap the other relay's polls
        await sleep(Math.random() < 0.05 ? 2 : 0);
        published.push({ relay: name, messageId, sku });
      };
      // the messages of one product come together, in commit order
      const deliverTo = async (_handler: string, messages: PendingMessage[]) => {
        for (const message of messages) await publish(message);
      };
      const relay = new OutboxRelay(outbox, deliverTo, silentLogger, {
        batchSize: BATCH,
      });
      relay.start(20);
      return { name, pool, outbox, relay };
    });
    try {
      for (let wave = 0; wave < 5; wave++) {
        await appendMessages(db, skus, 10);
        relays.forEach((r) => r.relay.kick());
        await sleep(30);
      }
      // The leader is stuck on the gated message: cut it off, so its renewals fail.
      await reached;
      // (not awaited: destroy waits for the connection held by the stuck delivery)
      void relays.find((r) => r.name === frozen)?.pool.destroy();
      for (let wave = 0; wave < 5; wave++) {
        await appendMessages(db, skus, 10);
        relays.forEach((r) => r.relay.kick());
      }
      // The other relay took over: it delivers the gated message while its old leader waits.
      await eventually(async () => {
        expect(published.some((p) => p.messageId === gated)).to.equal(true);
      }, 10_000);
      openGate();

      const ids = await eventually(async () => {
        const rows: { id: string; key: string; delivered_at: Date | null }[] = await db('outbox')
          .whereIn('key', skus)
          .orderBy('id')
          .select('id', 'key', 'delivered_at');
        expect(rows.filter((r) => r.delivered_at === null)).to.deep.equal([]);
        return rows;
      }, 10_000);
      await Promise.all(relays.map((r) => r.relay.stop()));

      const firstPublications = new Map<string, Publication>();
      for (const p of published)
        if (!firstPublications.has(p.messageId)) firstPublications.set(p.messageId, p);
      const byRelay = (name: string) => published.filter((p) => p.relay === name).length;
      console.log(
        `      lease race: messages ${ids.length}, publications ${published.length} ` +
          `(a ${byRelay('a')}, b ${byRelay('b')}), duplicates ${published.length - firstPublications.size}`,
      );
      expect(firstPublications.size, 'messages published').to.equal(ids.length);
      expect([...firstPublications.keys()].sort()).to.deep.equal(
        ids.map((r) => String(r.id)).sort(),
      );
      for (const sku of skus) {
        const committed = ids.filter((r) => r.key === sku).map((r) => String(r.id));
        const firstSeen = [...firstPublications.values()]
          .filter((p) => p.sku === sku)
          .map((p) => p.messageId);
        expect(firstSeen, `order of ${sku}`).to.deep.equal(committed);
      }
      // The one cut off had published before; the other took over.
      expect(byRelay('a'), 'relay a published nothing').to.be.above(0);
      expect(byRelay('b'), 'relay b published nothing').to.be.above(0);
      expect(firstPublications.get(gated as string)?.relay).to.not.equal(frozen);
      // At least once, but only the batch in the hands of the leader that was cut off can go
      // out twice: the lease never lets two relays deliver at once otherwise.
      const repeated = new Set(
        published
          .filter((p, i) => published.findIndex((q) => q.messageId === p.messageId) < i)
          .map((p) => p.messageId),
      );
      expect(repeated.size, 'messages published twice').to.be.at.most(BATCH);
    } finally {
      openGate();
      await Promise.all(relays.map((r) => r.relay.stop()));
      await Promise.all(relays.map((r) => r.outbox.close()));
      await Promise.all(relays.map((r) => r.pool.destroy().catch(() => undefined)));
    }
    // Both idle and closed: the lease is free for the next relay at once.
    const lease = await db('relay_leases').first('holder').where({ name: 'outbox_relay' });
    expect(lease?.holder).to.equal(null);
  });

  it('a relay that loses its lease mid-drain sends nothing more and records nothing', async function () {
    this.timeout(30_000);
    const db = await testDb();
    const sku = randomSku('fenced');
    await appendMessages(db, [sku], 5);
    const rows = async () =>
      db('outbox').where({ key: sku }).orderBy('id').select('id', 'delivered_at', 'attempts');
    const ids = (await rows()).map((r) => String(r.id));
    const published: string[] = [];
    let openGate: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    let gateReached: () => void = () => undefined;
    const reached = new Promise<void>((resolve) => (gateReached = resolve));
    // Together the messages fail, so the relay sends them one by one; the first one sent holds
    // the drain until the test has handed the lease to another holder.
    const deliverTo = async (_handler: string, messages: PendingMessage[]) => {
      if (messages.length > 1) throw new Error('one by one, please');
      if (messages[0].id === ids[0]) {
        gateReached();
        await gate;
      }
      published.push(messages[0].id);
    };
    const pool = knex({ client: 'pg', connection: process.env.DATABASE_URL, pool: { max: 3 } });
    const outbox = new KnexOutbox(pool, LEASE_MS);
    const relay = new OutboxRelay(outbox, deliverTo, silentLogger, { batchSize: BATCH });
    const leaseRow = db('relay_leases').where({ name: 'outbox_relay' });
    try {
      relay.kick();
      await reached;
      // Another relay takes the lease (as one would once this one's lapsed), and this one's
      // lease runs out by its own clock too: its renewals find the lease gone.
      await leaseRow
        .clone()
        .update({ holder: 'another relay', expires_at: db.raw("now() + interval '1 hour'") });
      await sleep(LEASE_MS + 100);
      openGate();
      await relay.stop();

      const after = await rows();
      expect(published, 'sent after the lease was lost').to.deep.equal([ids[0]]);
      expect(
        after.filter((r) => r.delivered_at !== null),
        'recorded as delivered',
      ).to.deep.equal([]);
      expect(
        after.map((r) => r.attempts),
        'failures recorded',
      ).to.deep.equal([0, 0, 0, 0, 0]);
      expect(
        await outbox.deliverPending(BATCH, () => Promise.reject(new Error('not the leader'))),
      ).to.equal(0);

      // Once the lease is free again, every message goes out, in order, and is recorded.
      await leaseRow.clone().update({ holder: null, expires_at: db.raw("'-infinity'") });
      published.length = 0;
      // (another relay: this one's outbox waits a while before it asks for the lease again)
      const next = new OutboxRelay(
        new KnexOutbox(pool, LEASE_MS),
        async (_handler, messages) => {
          published.push(...messages.map((m) => m.id));
        },
        silentLogger,
        { batchSize: BATCH },
      );
      await next.deliverPending();
      expect(published).to.deep.equal(ids);
      expect((await rows()).filter((r) => r.delivered_at === null)).to.deep.equal([]);
    } finally {
      openGate();
      await relay.stop();
      await leaseRow.clone().update({ holder: null, expires_at: db.raw("'-infinity'") });
      await outbox.close();
      await pool.destroy();
    }
  });

  it('records a failed delivery with its retry time by the database clock', async () => {
    const db = await testDb();
    const sku = randomSku('failing');
    await appendMessages(db, [sku], 1);
    const outbox = new KnexOutbox(db, LEASE_MS);
    const relay = new OutboxRelay(
      outbox,
      async (_handler, messages) => {
        // another test's leftover goes out as usual: only ours fails
        if (messages.some((m) => (m.event as Allocated).sku === sku)) {
          throw new Error('Redis is down');
        }
      },
      silentLogger,
      { baseDelayMs: 60_000, maxDelayMs: 60_000 }, // a retry 30 to 60 s later
    );
    const clock = async () => ((await db.raw('SELECT now() AS now')).rows[0].now as Date).getTime();
    const before = await clock();
    await relay.deliverPending();
    const after = await clock();
    await outbox.close();

    const row = await db('outbox')
      .first('attempts', 'last_error', 'next_attempt_at', 'delivered_at')
      .where({ key: sku });
    expect(row).to.include({ attempts: 1, last_error: 'Error: Redis is down', delivered_at: null });
    const retryAt = (row?.next_attempt_at as Date).getTime();
    expect(retryAt).to.be.within(before + 30_000, after + 60_000);
  });
});
