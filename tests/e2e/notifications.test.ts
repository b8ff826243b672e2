// One notification per stock-out (SPEC section 5, third edition), through a service process and
// a real SMTP server: a burst on a sold-out sku sends one email, a restock re-arms it, and a
// storm over many skus is paced at EMAIL_MAX_PER_SECOND with none dropped.
import { expect } from 'chai';
import type { Knex } from 'knex';
import { testDb } from '../support/db';
import { eventually } from '../support/eventually';
import { startServiceProcess, type ServiceProcess } from '../support/processes';
import { randomBatchref, randomOrderid, randomSku } from '../support/random_refs';
import { addBatch, sendAll, type Outcome } from '../support/requests';
import { startSmtpServer, type TestSmtpServer } from '../support/smtp_server';

const PER_SECOND = 5;

async function undeliveredEmails(db: Knex, skus: string[]): Promise<number> {
  const [row] = await db('outbox')
    .whereIn('key', skus)
    .where({ handler: 'email' })
    .whereNull('delivered_at')
    .count<{ count: string }[]>('* as count');
  return Number(row.count);
}

async function suppressed(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith('allocation_notifications_suppressed_total'));
  return Number(line?.split(' ')[1] ?? NaN);
}

describe('notifications', function () {
  this.timeout(180_000);
  let smtp: TestSmtpServer;
  let service: ServiceProcess;
  let db: Knex;
  before(async () => {
    smtp = await startSmtpServer();
    db = await testDb();
    service = await startServiceProcess({
      SMTP_HOST: '127.0.0.1',
      SMTP_PORT: String(smtp.port),
      EMAIL_MAX_PER_SECOND: String(PER_SECOND),
    });
  });
  after(async () => {
    await service?.kill();
    await smtp?.close();
  });

  const mailsFor = (sku: string) =>
    smtp.received.filter((m) => m.data.includes(`Out of stock for ${sku}`));
  const allocations = (sku: string, count: number) =>
    Array.from({ length: count }, (_, i) => ({
      method: 'POST' as const,
      url: `${service.url}/allocate`,
      body: { orderid: randomOrderid(String(i)), sku, qty: 1 },
    }));
  const refused = (outcomes: Outcome[]) =>
    outcomes.filter((o) => o.status === 202 && (o.body as { batchref: unknown }).batchref === null)
      .length;

  it('sends one email for a burst of 1,000 allocations on a sku with 10 units, one more after a restock', async () => {
    const sku = randomSku('storm');
    await addBatch(service.url, randomBatchref(), sku, 10);
    const before = await suppressed(service.url);

    const burst = await sendAll(allocations(sku, 1_000), 16);
    await eventually(async () => {
      expect(await undeliveredEmails(db, [sku])).to.equal(0);
      expect(mailsFor(sku)).to.have.length(1);
    }, 60_000);
    await addBatch(service.url, randomBatchref(), sku, 5);
    const again = await sendAll(allocations(sku, 20), 8);
    await eventually(async () => {
      expect(await undeliveredEmails(db, [sku])).to.equal(0);
      expect(mailsFor(sku)).to.have.length(2);
    }, 60_000);

    expect(burst.map((o) => o.status)).to.deep.equal(burst.map(() => 202));
    expect(refused(burst)).to.equal(990);
    expect(refused(again)).to.equal(15);
    const emailRows = await db('outbox').where({ key: sku, handler: 'email' }).count('* as n');
    expect(Number(emailRows[0].n)).to.equal(2);
    // every refusal but the two that were notified
    expect((await suppressed(service.url)) - before).to.equal(990 + 15 - 2);
  });

  it('paces a stock-out over 100 skus at EMAIL_MAX_PER_SECOND, and sends all of them', async () => {
    const skus = Array.from({ length: 100 }, (_, i) => randomSku(`paced-${i}`));
    for (const sku of skus) await addBatch(service.url, randomBatchref(), sku, 1);
    const firstMail = smtp.received.length;

    const outcomes = await sendAll(
      skus.map((sku) => ({
        method: 'POST' as const,
        url: `${service.url}/allocate`,
        body: { orderid: randomOrderid(), sku, qty: 2 },
      })),
      16,
    );
    const mails = await eventually(async () => {
      const arrived = smtp.received.slice(firstMail);
      expect(arrived).to.have.length(100);
      return arrived;
    }, 150_000);

    expect(refused(outcomes)).to.equal(100);
    for (const sku of skus) expect(mailsFor(sku), sku).to.have.length(1);
    const times = mails.map((m) => m.at).sort((a, b) => a - b);
    // any PER_SECOND + 1 emails in a row span at least a second (10 ms for timer granularity)
    const spans = times.slice(PER_SECOND).map((t, i) => t - times[i]);
    expect(Math.min(...spans)).to.be.at.least(990);
  });
});
