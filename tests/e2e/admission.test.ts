// SPEC section 10: a process admits at most MAX_INFLIGHT commands; the next ones get 503 with
// Retry-After at once, and every admitted one is applied. Counts, never timings.
import { expect } from 'chai';
import { ADAPTIVE_FLOOR } from '../../src/allocation/entrypoints/http/adaptive_limit';
import { testDb } from '../support/db';
import { eventually } from '../support/eventually';
import { randomBatchref, randomOrderid, randomSku } from '../support/random_refs';
import { startServiceProcess, type ServiceProcess } from '../support/processes';
import { openRaw, rawJsonRequest, type RawAnswer } from '../support/raw_http';
import { addBatch, countBy } from '../support/requests';

const MAX_INFLIGHT = 4;
/** Short, so a test waits for it; long enough for the other requests to be answered first. */
const BODY_TIMEOUT_MS = 4_000;

interface Answer {
  orderid: string;
  status: number;
  retryAfter: string | null;
  body: { message?: unknown; batchref?: unknown };
}

async function allocate(
  url: string,
  orderid: string,
  sku: string,
  path = '/allocate',
): Promise<Answer> {
  const response = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ orderid, sku, qty: 1 }),
    signal: AbortSignal.timeout(15_000), // an answer held back is a failure, not a hang
  });
  const body = (await response.json()) as Answer['body'];
  return {
    orderid,
    status: response.status,
    retryAfter: response.headers.get('retry-after'),
    body,
  };
}

/**
 * Sends `requests` allocations on `sku` while a test transaction holds its product's row:
 * nothing admitted can finish meanwhile, so exactly those over `limit` come back at once, all
 * refused. The row is let go `holdMs` after that (the admitted ones are then that slow).
 */
async function burstWhileLocked(
  url: string,
  sku: string,
  requests: number,
  limit: number,
  holdMs = 0,
): Promise<Answer[]> {
  const answers: Answer[] = [];
  const blocker = await (await testDb()).transaction();
  let pending: Promise<Answer>[];
  try {
    await blocker.raw('SELECT 1 FROM products WHERE sku = ? FOR UPDATE', [sku]);
    pending = Array.from({ length: requests }, () =>
      allocate(url, randomOrderid(), sku).then((answer) => (answers.push(answer), answer)),
    );
    await eventually(async () => expect(answers.length).to.equal(requests - limit), 20_000);
    expect(countBy(answers, (a) => a.status)).to.deep.equal({ 503: answers.length });
    await new Promise((resolve) => setTimeout(resolve, holdMs));
  } finally {
    await blocker.rollback();
  }
  return Promise.all(pending);
}

describe(`admission control (MAX_INFLIGHT=${MAX_INFLIGHT})`, () => {
  let service: ServiceProcess;
  before(async () => {
    await testDb(); // migrated
    service = await startServiceProcess(
      // lock waits outlast the test's hold on the row below
      {
        MAX_INFLIGHT: String(MAX_INFLIGHT),
        DB_LOCK_TIMEOUT_MS: '20000',
        BODY_TIMEOUT_MS: String(BODY_TIMEOUT_MS),
      },
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

    const all = await burstWhileLocked(service.url, sku, requests, MAX_INFLIGHT);
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

  it('counts /Allocate, /allocate/ and an absolute-form target as commands', async () => {
    const [sku, ref] = [randomSku('spelling'), randomBatchref()];
    await addBatch(service.url, ref, sku, 1_000);
    const blocker = await (await testDb()).transaction();
    const first: Answer[] = [];
    const variants: Answer[] = [];
    let held: Promise<Answer>[];
    try {
      await blocker.raw('SELECT 1 FROM products WHERE sku = ? FOR UPDATE', [sku]);
      // Every command slot taken by an allocation waiting on the row; the two over are refused.
      held = Array.from({ length: MAX_INFLIGHT + 2 }, () =>
        allocate(service.url, randomOrderid(), sku).then((a) => (first.push(a), a)),
      );
      await eventually(async () => expect(first.length).to.equal(2));
      expect(first.map((a) => a.status)).to.deep.equal([503, 503]);

      for (const path of ['/Allocate', '/ALLOCATE', '/allocate/']) {
        variants.push(await allocate(service.url, randomOrderid(), sku, path));
      }
      const absolute = await rawJsonRequest(
        service.port,
        'POST',
        `http://127.0.0.1:${service.port}/allocate`,
        { orderid: randomOrderid(), sku, qty: 1 },
      );
      variants.push(asAnswer(absolute));
      // and the readiness probe is neither refused nor queued behind the commands
      const ready = await fetch(`${service.url}/readyz`, { signal: AbortSignal.timeout(5_000) });
      expect(ready.status).to.equal(200);
    } finally {
      await blocker.rollback();
    }

    expect(variants.map((a) => a.status)).to.deep.equal([503, 503, 503, 503]);
    for (const refused of variants) expect(refused.retryAfter).to.match(/^\d+$/);
    const statuses = countBy(await Promise.all(held), (a) => a.status);
    expect(statuses).to.deep.equal({ 202: MAX_INFLIGHT, 503: 2 });
  });

  it('serves /Allocate, /allocate/ and an absolute-form target as /allocate', async () => {
    const [sku, ref] = [randomSku('spelling'), randomBatchref()];
    await addBatch(service.url, ref, sku, 1_000);
    const answers: Answer[] = [];
    for (const path of ['/Allocate', '/ALLOCATE', '/allocate/']) {
      answers.push(await allocate(service.url, randomOrderid(), sku, path));
    }
    const absolute = await rawJsonRequest(
      service.port,
      'POST',
      `http://127.0.0.1:${service.port}/allocate`,
      { orderid: randomOrderid(), sku, qty: 1 },
    );
    answers.push(asAnswer(absolute));

    expect(answers.map((a) => [a.status, a.body.batchref])).to.deep.equal(
      Array.from({ length: 4 }, () => [202, ref]),
    );
    const batch = await (
      await testDb()
    )('batches')
      .first('allocated_quantity')
      .where({ reference: ref });
    expect(batch?.allocated_quantity).to.equal(4);
  });

  it('holds no command slot while a body arrives, and answers a late body with 408', async () => {
    const [sku, ref] = [randomSku('slowbody'), randomBatchref()];
    await addBatch(service.url, ref, sku, 1_000);
    // As many clients as there are command slots send their headers and part of the body.
    const head =
      `POST /allocate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
      `Content-Length: 100\r\n\r\n{"orderid": "slow",`;
    const stuck = Array.from({ length: MAX_INFLIGHT }, () => openRaw(service.port, head));
    try {
      // (before this change, the slots were taken here, once the headers were parsed)
      await new Promise((resolve) => setTimeout(resolve, 300));

      // Twice as many commands, as many at once as there are slots: all fit, none refused.
      const others: Answer[] = [];
      for (let round = 0; round < 2; round++) {
        const burst = Array.from({ length: MAX_INFLIGHT }, () =>
          allocate(service.url, randomOrderid(), sku),
        );
        others.push(...(await Promise.all(burst)));
      }
      const stuckAnsweredMeanwhile = stuck.filter((s) => s.answered()).length;
      const late = await Promise.all(stuck.map((s) => s.answer));

      expect(countBy(others, (a) => a.status)).to.deep.equal({ 202: 2 * MAX_INFLIGHT });
      expect(stuckAnsweredMeanwhile).to.equal(0);
      for (const answer of late) {
        expect(answer.status).to.equal(408);
        expect(JSON.parse(answer.body)).to.have.property('message').that.is.a('string');
      }
      const batch = await (
        await testDb()
      )('batches')
        .first('allocated_quantity')
        .where({ reference: ref });
      expect(batch?.allocated_quantity).to.equal(2 * MAX_INFLIGHT);
    } finally {
      for (const s of stuck) s.socket.destroy();
    }
  });

  it('bounds a body the API does not read itself (a console form) too', async () => {
    const form =
      `POST /console/sign_in HTTP/1.1\r\nHost: 127.0.0.1\r\nSec-Fetch-Site: same-origin\r\n` +
      `Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ntoken=`;

    const answer = await openRaw(service.port, form).answer;

    expect(answer.status).to.equal(408);
  });
});

function asAnswer(raw: RawAnswer): Answer {
  const retryAfter = /^retry-after: *(\S+)/im.exec(raw.headers)?.[1] ?? null;
  return {
    orderid: '',
    status: raw.status,
    retryAfter,
    body: JSON.parse(raw.body) as Answer['body'],
  };
}

/** A sample of one Prometheus series from GET /metrics. */
async function metric(url: string, series: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  expect(line, `${series} in /metrics`).to.be.a('string');
  return Number(line?.split(' ')[1]);
}

describe('admission control follows latency (MAX_INFLIGHT=128, ADMISSION_TARGET_MS=250)', () => {
  const ceiling = 128;
  const requests = 134;
  let service: ServiceProcess;
  before(async () => {
    await testDb(); // migrated
    service = await startServiceProcess(
      { MAX_INFLIGHT: String(ceiling), ADMISSION_TARGET_MS: '250', DB_LOCK_TIMEOUT_MS: '20000' },
      'api',
    );
  });
  after(async () => {
    await service.stop();
  });

  const refusals = (answers: Answer[]) => {
    expect(answers.every((a) => a.status === 202 || a.status === 503)).to.equal(true);
    return answers.filter((a) => a.status === 503).length;
  };
  const limit = () => metric(service.url, 'allocation_admission_limit{kind="commands"}');

  it('admits fewer at once after slow requests, and every 202 is stored', async () => {
    const [sku, ref] = [randomSku('adaptive'), randomBatchref()];
    await addBatch(service.url, ref, sku, 1_000);

    expect(await limit()).to.equal(ceiling);
    // refusals answered slowly on a busy machine must not count as slow: the target is well
    // above a refusal's time there (seen up to ~100 ms at load 15 on 2 cores), the hold above it
    const slow = await burstWhileLocked(service.url, sku, requests, ceiling, 1_000);
    expect(refusals(slow)).to.equal(requests - ceiling);
    // a window is judged by the first request that completes after it
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect((await allocate(service.url, randomOrderid(), sku)).status).to.equal(202);

    const lowered = await limit();
    expect(lowered).to.be.below(ceiling).and.at.least(ADAPTIVE_FLOOR);
    const burst = await burstWhileLocked(service.url, sku, requests, lowered);
    expect(refusals(burst)).to.equal(requests - lowered);
    const refused = await metric(
      service.url,
      'allocation_http_requests_refused_total{kind="commands"}',
    );
    expect(refused).to.equal(2 * requests - ceiling - lowered);
    const db = await testDb();
    const batch = await db('batches').first('allocated_quantity').where({ reference: ref });
    expect(batch?.allocated_quantity).to.equal(1 + ceiling + lowered);
  });
});
