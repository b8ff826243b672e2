// "A relay that did not finish" (issue 20): once in three kill -9 drives, 32 outbox rows were
// still undelivered 90 s after the load. This repeats the drive: three processes (one runs the
// consumer), allocations racing quantity changes, one API process killed mid-load each round
// and a new one started; after each round the outbox must drain within a bound. When it does
// not, the rows left and the relay lease are printed: that is the evidence the issue asks for.
import { expect } from 'chai';
import { Redis } from 'ioredis';
import type { Knex } from 'knex';
import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { testDb } from '../support/db';
import { eventually } from '../support/eventually';
import { startServiceProcess, type ServiceProcess } from '../support/processes';
import { randomBatchref, randomOrderid, randomSku } from '../support/random_refs';
import { redisUrl } from '../support/redis';
import { addBatch, sendAll } from '../support/requests';

// Two rounds per variant in the suite; KILL_ROUNDS=20 (say) to hunt the rare case.
const ROUNDS = Number(process.env.KILL_ROUNDS ?? 2);
/** Far above a lease (1.5 s in tests) plus the longest backoff (OUTBOX_RETRY_MAX_MS below). */
const DRAIN_BOUND_MS = 30_000;
const ENV = { OUTBOX_RETRY_MAX_MS: '5000' };

/** The API workers a primary forked (API_WORKERS > 1). */
function workerPids(primary: ServiceProcess): number[] {
  const out = execFileSync('pgrep', ['-P', String(primary.child.pid)], { encoding: 'utf8' });
  return out.split('\n').filter(Boolean).map(Number);
}

async function undelivered(db: Knex, skus: string[]): Promise<Record<string, unknown>[]> {
  return db('outbox')
    .whereIn('key', skus)
    .whereNull('delivered_at')
    .orderBy('id')
    .select('id', 'key', 'type', 'handler', 'attempts', 'last_error', 'created_at')
    .select(db.raw('next_attempt_at - now() AS due_in'));
}

/** One round of the drive; the victim is killed after 80 of its 240 allocations. */
async function driveRound(
  publisher: Redis,
  name: string,
  urls: string[],
  kill: () => void,
): Promise<string[]> {
  const skus = [1, 2, 3].map((i) => randomSku(`${name}-${i}`));
  const refs = skus.flatMap((sku) =>
    [randomBatchref('near'), randomBatchref('far')].map((ref) => [ref, sku]),
  );
  for (const [ref, sku] of refs) await addBatch(urls[0], ref, sku, 30);
  const allocations = Array.from({ length: 240 }, (_, i) => ({
    method: 'POST' as const,
    url: `${urls[i % urls.length]}/allocate`,
    body: { orderid: randomOrderid(`${name}-${i}`), sku: skus[i % 3], qty: 1 + (i % 3) },
  }));
  const changing = (async () => {
    for (let i = 0; i < 40; i++) {
      const [ref] = refs[i % refs.length];
      const qty = 10 + ((i * 7) % 41);
      await publisher.publish('change_batch_quantity', JSON.stringify({ batchref: ref, qty }));
      await sleep(20);
    }
  })();
  await sendAll(allocations, 16, (done) => {
    if (done === 80) kill();
  });
  await changing;
  return skus;
}

/** Waits for the skus' outbox to drain; on a timeout, prints what is left and the lease. */
async function drained(db: Knex, skus: string[], running: ServiceProcess[]): Promise<number> {
  const from = Date.now();
  try {
    await eventually(
      async () => expect(await undelivered(db, skus)).to.deep.equal([]),
      DRAIN_BOUND_MS,
    );
  } catch (error) {
    const lease = await db('relay_leases').select('*', db.raw('expires_at - now() AS left'));
    console.log('      left undelivered:', JSON.stringify(await undelivered(db, skus)));
    console.log('      relay lease:', JSON.stringify(lease));
    for (const p of running) console.log(`      --- ${p.url}\n${p.output().slice(-3000)}`);
    throw error;
  }
  return Date.now() - from;
}

describe('the relay after repeated kills', function () {
  this.timeout(ROUNDS * 90_000);
  const running: ServiceProcess[] = [];
  let publisher: Redis;
  before(() => {
    publisher = new Redis(redisUrl());
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((p) => p.kill()));
  });
  after(() => publisher.disconnect());

  it(`drains within the bound after each of ${ROUNDS} rounds killing one of three processes`, async () => {
    const db = await testDb();
    running.push(
      ...(await Promise.all([
        startServiceProcess(ENV, 'all'),
        startServiceProcess(ENV, 'api'),
        startServiceProcess(ENV, 'api'),
      ])),
    );
    const drains: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const victim = running[1 + (round % 2)]; // an API process; the consumer's process stays
      const urls = running.map((p) => p.url);
      const skus = await driveRound(publisher, `kill-${round}`, urls, () =>
        victim.child.kill('SIGKILL'),
      );
      await victim.kill();
      running[running.indexOf(victim)] = await startServiceProcess(ENV, 'api');
      drains.push(await drained(db, skus, running));
    }
    console.log(`      drained after each round in ${drains.join(', ')} ms`);
  });

  it(`drains within the bound after each of ${ROUNDS} rounds killing one of two API workers`, async () => {
    const db = await testDb();
    const primary = await startServiceProcess({ ...ENV, API_WORKERS: '2' }, 'all');
    running.push(primary);
    const drains: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const skus = await driveRound(publisher, `worker-${round}`, [primary.url], () => {
        const [worker] = workerPids(primary);
        if (worker !== undefined) process.kill(worker, 'SIGKILL'); // the primary forks another
      });
      drains.push(await drained(db, skus, running));
    }
    console.log(`      drained after each round in ${drains.join(', ')} ms`);
  });
});
