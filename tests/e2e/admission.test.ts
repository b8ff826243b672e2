// SPEC section 10: a process admits at most MAX_INFLIGHT commands; the next ones get 503 with
// Retry-After at once, and every admitted one is applied. Counts, never timings.
import { expect } from 'chai';
import { testDb } from '../support/db';
import { eventually } from '../support/eventually';
import { randomBatchref, randomOrderid, randomSku } from '../support/random_refs';
import { startServiceProcess, type ServiceProcess } from '../support/processes';
import { addBatch, countBy } from '../support/requests';

const MAX_INFLIGHT = 4;

interface Answer {
  orderid: string;
  status: number;
  retryAfter: string | null;
  body: { message?: unknown; batchref?: unknown };
}

async function allocate(url: string, orderid: string, sku: string): Promise<Answer> {
  const response = await fetch(`${url}/allocate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ orderid, sku, qty: 1 }),
  });
  const body = (await response.json()) as Answer['body'];
  return {
    orderid,
    status: response.status,
    retryAfter: response.headers.get('retry-after'),
    body,
  };
}

describe(`admission control (MAX_INFLIGHT=${MAX_INFLIGHT})`, () => {
  let service: ServiceProcess;
  before(async () => {
    await testDb(); // migrated
    service = await startServiceProcess(
      // lock waits outlast the test's hold on the row below
      { MAX_INFLIGHT: String(MAX_INFLIGHT), DB_LOCK_TIMEOUT_MS: '20000' },
      'api',
    );
  });
  after(async () => {
    await service.stop();
  });

  it('refuses what is over the limit with 503 + Retry-After, and applies every 202', async () => {
    const [sku, ref] = [randomSku('admission'), randomBatchref()];
    await addBatch(service.url, ref, sku, 1_000);
    const db = await testDb();
    const requests = 60;
    const answers: Answer[] = [];

    // While the product's row is locked, admitted commands cannot finish: exactly the
    // requests beyond the limit come back, all refused.
    const blocker = await db.transaction();
    let pending: Promise<Answer>[];
    try {
      await blocker.raw('SELECT 1 FROM products WHERE sku = ? FOR UPDATE', [sku]);
      pending = Array.from({ length: requests }, () =>
        allocate(service.url, randomOrderid(), sku).then((answer) => {
          answers.push(answer);
          return answer;
        }),
      );
      await eventually(async () => {
        expect(answers.length).to.be.at.least(requests - MAX_INFLIGHT);
      }, 20_000);
      expect(countBy(answers, (a) => a.status)).to.deep.equal({
        503: answers.length,
      });
    } finally {
      await blocker.rollback();
    }
    const all = await Promise.all(pending);
    // Once the lock is gone, a second burst at the same concurrency, nothing blocked.
    all.push(
      ...(await Promise.all(
        Array.from({ length: requests }, () => allocate(service.url, randomOrderid(), sku)),
      )),
    );

    const statuses = countBy(all, (a) => a.status);
    expect(Object.keys(statuses).sort(), JSON.stringify(statuses)).to.deep.equal(['202', '503']);
    for (const refused of all.filter((a) => a.status === 503)) {
      expect(refused.retryAfter).to.match(/^\d+$/);
      expect(refused.body.message).to.be.a('string');
    }
    const admitted = all.filter((a) => a.status === 202).map((a) => a.orderid);
    const stored = await db('order_lines')
      .join('allocations', (j) =>
        j
          .on('allocations.orderline_id', 'order_lines.id')
          .andOn('allocations.sku', 'order_lines.sku'),
      )
      .whereIn('orderid', admitted)
      .count<{ count: string }[]>('* as count');
    expect(Number(stored[0].count)).to.equal(admitted.length);
    const batch = await db('batches').first('allocated_quantity').where({ reference: ref });
    expect(batch?.allocated_quantity).to.equal(admitted.length);
  });
});
