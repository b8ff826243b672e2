// Property-based fuzzing (fast-check) of a real service process: whatever arrives, an HTTP
// caller gets a 4xx with a message (never a 5xx), a bad Redis message is set aside with its
// reason, and the service keeps serving. Inputs come from a fixed seed, so every run sends the
// same ones; a failure is shrunk to a small counterexample and its message says how to replay
// it (FUZZ_REPLAY). FUZZ_SEED=n explores other inputs.
import { expect } from 'chai';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { testDb } from '../support/db';
import { eventually } from '../support/eventually';
import { startServiceProcess, type ServiceProcess } from '../support/processes';
import { randomBatchref, randomSku } from '../support/random_refs';
import { redisUrl } from '../support/redis';
import { ANSWER_TIMEOUT_MS, countBy, send } from '../support/requests';
import { edgeCases, httpCases, STOCKED_SKUS, stockedSku, type HttpCase } from './fuzz_http_bodies';
import type { Route } from './fuzz_inputs';
import { payloadOf, poisonMessages, type PoisonMessage } from './fuzz_poison_messages';

const SEED = Number(process.env.FUZZ_SEED ?? 20_261_121);
/** Requests go in batches sent together (1 to 8), as concurrent clients send them. */
const HTTP_BATCHES_PER_ROUTE = 150;
/** Messages go in batches of 50 to 120, each followed by a valid one that marks its end. */
const REDIS_BATCHES = 20;
/** Every seed sends at least this many poison messages. */
const REDIS_MIN_MESSAGES = 1000;

/**
 * Runs a property from the seed (or replays `FUZZ_REPLAY=name:seed:path`); on failure, throws
 * fast-check's report (the shrunk counterexample and the error) and the line that replays it.
 */
async function checkProperty<T>(
  name: string,
  property: fc.IAsyncProperty<T>,
  options: { seed: number; numRuns: number; examples?: T[] },
): Promise<void> {
  const [replayName, replaySeed, ...path] = (process.env.FUZZ_REPLAY ?? '').split(':');
  const replay = replayName === name ? { seed: Number(replaySeed), path: path.join(':') } : {};
  const details = await fc.check(property, { ...options, ...replay });
  if (!details.failed) return;
  throw new Error(
    `${fc.defaultReportMessage(details)}\n${String(details.errorInstance)}\n` +
      `Replay: FUZZ_REPLAY='${name}:${details.seed}:${details.counterexamplePath}' make e2e-tests`,
  );
}

interface HttpResult {
  status: number; // 0: no answer
  text: string;
}

async function sendCase(url: string, c: HttpCase): Promise<HttpResult> {
  try {
    const response = await fetch(`${url}${c.route}`, {
      method: 'POST',
      headers: c.headers,
      body: c.body,
      signal: AbortSignal.timeout(ANSWER_TIMEOUT_MS),
    });
    return { status: response.status, text: await response.text() };
  } catch {
    return { status: 0, text: '' };
  }
}

/** Why an answer breaks the contract, or undefined when it keeps it. */
function violation(c: HttpCase, r: HttpResult): string | undefined {
  if (r.status === 0) return 'no answer';
  if (r.status >= 500) return `status ${r.status}`;
  const success = c.route === '/allocate' ? 202 : 201;
  if (r.status === success) return c.valid ? undefined : `status ${r.status} for a malformed body`;
  if (r.status < 400) return `status ${r.status}`;
  try {
    const body = JSON.parse(r.text) as { message?: unknown };
    return typeof body?.message === 'string' ? undefined : 'error body without a string message';
  } catch {
    return 'error body is not JSON';
  }
}

const postJson = async (url: string, body: unknown) =>
  (await send({ method: 'POST', url, body })).status;

describe('fuzz', () => {
  let service: ServiceProcess;
  before(async () => {
    service = await startServiceProcess({ LOG_LEVEL: 'error' });
  });
  after(async () => {
    await service.stop();
  });

  it('malformed HTTP bodies get a 4xx with a message, never a 5xx', async function () {
    this.timeout(180_000);
    // The skus exist from the start, so a body reaches the same code on every run (an unknown
    // sku would stop it early, before any query that uses its other fields).
    for (let k = 0; k < STOCKED_SKUS; k++) {
      const stock = { ref: `fuzz-stock-${SEED}-${k}`, sku: stockedSku(SEED, k), qty: 100_000 };
      expect([201, 409]).to.include(await postJson(`${service.url}/add_batch`, stock));
    }
    const answered: { c: HttpCase; r: HttpResult }[] = [];
    // Batches first: a valid add_batch among them may create an odd sku that an allocation names.
    for (const [i, route] of (['/add_batch', '/allocate'] as Route[]).entries()) {
      const edges = edgeCases(route, SEED);
      const examples = Array.from({ length: Math.ceil(edges.length / 8) }, (_, k): [HttpCase[]] => [
        edges.slice(k * 8, k * 8 + 8),
      ]);
      const cases = fc.array(httpCases(route, SEED), { minLength: 1, maxLength: 8, size: 'max' });
      const property = fc.asyncProperty(cases, async (batch) => {
        const results = await Promise.all(batch.map((c) => sendCase(service.url, c)));
        batch.forEach((c, k) => answered.push({ c, r: results[k] }));
        const broken = batch
          .map((c, k) => ({ c, r: results[k], why: violation(c, results[k]) }))
          .filter((p) => p.why !== undefined)
          .map((p) => `${p.why}: ${fc.stringify(p.c)} -> ${p.r.text.slice(0, 80)}`);
        expect(broken, `answers that break the contract:\n${broken.join('\n')}\n`).to.be.empty;
        expect(service.isRunning(), service.output()).to.equal(true);
      });
      await checkProperty(`http${route}`, property, {
        seed: SEED + i,
        numRuns: HTTP_BATCHES_PER_ROUTE,
        examples,
      });
    }
    // ...and afterwards it still does its job.
    const [sku, ref] = [randomSku('fuzz'), randomBatchref('fuzz')];
    const added = await postJson(`${service.url}/add_batch`, { ref, sku, qty: 5 });
    const allocated = await postJson(`${service.url}/allocate`, { orderid: ref, sku, qty: 1 });

    const malformed = answered.filter((a) => !a.c.valid);
    const statuses = countBy(answered, (a) => a.r.status);
    console.log(
      `      http fuzz: bodies sent ${answered.length} (malformed ${malformed.length}), ` +
        `statuses ${JSON.stringify(statuses)}, ` +
        `kinds ${JSON.stringify(countBy(answered, (a) => a.c.kind))}`,
    );
    expect(malformed.length).to.be.at.least(1000);
    expect([added, allocated]).to.deep.equal([201, 202]);
  });

  it('malformed Redis messages are set aside with a reason and the consumer keeps going', async function () {
    this.timeout(180_000);
    const db = await testDb();
    const [sku, ref] = [randomSku('fuzz-redis'), randomBatchref('fuzz-redis')];
    expect(await postJson(`${service.url}/add_batch`, { ref, sku, qty: 10 })).to.equal(201);
    // Tags unique to this run: earlier runs sent the same messages.
    const runId = randomBytes(4).toString('hex');
    const publisher = new Redis(redisUrl());
    let batches = 0;
    let sent = 0;
    const property = fc.asyncProperty(
      fc.array(poisonMessages, {
        minLength: Math.ceil(REDIS_MIN_MESSAGES / REDIS_BATCHES),
        maxLength: 120,
        size: 'max',
      }),
      async (messages: PoisonMessage[]) => {
        const batch = ++batches;
        const tagOf = (i: number) => `<fz:${runId}:${batch}:${i}>`;
        const pipeline = publisher.pipeline();
        messages.forEach((m, i) =>
          pipeline.publish('change_batch_quantity', payloadOf(m, tagOf(i))),
        );
        // Messages are handled in order, so once this one shows, every poison message was seen.
        const marker = 1000 + batch;
        pipeline.publish('change_batch_quantity', JSON.stringify({ batchref: ref, qty: marker }));
        await pipeline.exec();
        sent += messages.length;
        await eventually(async () => {
          const row = await db('batches').first('purchased_quantity').where({ reference: ref });
          expect(row?.purchased_quantity).to.equal(marker);
        }, 30_000);

        const letters: { source: string; payload: string; reason: string }[] = await db(
          'dead_letters',
        )
          .select('source', 'payload', 'reason')
          .where('payload', 'like', `%<fz:${runId}:${batch}:%`);
        const missing = messages
          .filter((_, i) => !letters.some((l) => l.payload.includes(tagOf(i))))
          .map((m) => fc.stringify(m));
        expect(missing, `poison messages with no dead letter:\n${missing.join('\n')}\n`).to.be
          .empty;
        expect(letters.filter((l) => l.reason.trim() === '')).to.deep.equal([]);
        expect(new Set(letters.map((l) => l.source))).to.deep.equal(
          new Set(['change_batch_quantity']),
        );
        expect(service.isRunning(), service.output()).to.equal(true);
      },
    );
    try {
      await checkProperty('redis', property, { seed: SEED + 2, numRuns: REDIS_BATCHES });
    } finally {
      publisher.disconnect();
    }

    console.log(`      redis fuzz: messages sent ${sent} in ${batches} batches, all dead-lettered`);
    expect(sent).to.be.at.least(REDIS_MIN_MESSAGES);
    const listed = await send({ method: 'GET', url: `${service.url}/dead_letters?limit=5` });
    const entries = listed.body as { payload?: unknown; reason?: unknown }[];
    expect(listed.status).to.equal(200);
    expect(entries).to.have.length(5);
    for (const entry of entries) {
      expect(entry.payload).to.be.a('string');
      expect(entry.reason).to.be.a('string').and.not.empty;
    }
  });
});
