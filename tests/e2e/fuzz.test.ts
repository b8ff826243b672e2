// Malformed input, generated from a fixed seed, against a real service process: the same seed
// gives the same inputs, so a failure can be replayed. Whatever arrives, an HTTP caller gets a
// 4xx with a message (never a 5xx), a bad Redis message is set aside with its reason, and the
// service keeps serving.
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { gzipSync } from 'node:zlib';
import { testDb } from '../support/db';
import { eventually } from '../support/eventually';
import { randomBatchref, randomSku } from '../support/random_refs';
import { startServiceProcess, type ServiceProcess } from '../support/processes';

const SEED = 20_261_121;
const MALFORMED_PER_ROUTE = 600;
const POISON_MESSAGES = 1_100;
const MAX_INT = 2 ** 31 - 1;
const ANSWER_TIMEOUT_MS = 15_000;
/** Valid-looking bodies use these skus, stocked before the fuzzing starts. */
const SKUS = 10;

/** mulberry32: a tiny seeded PRNG, good enough to spread inputs and trivially reproducible. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

class Gen {
  private readonly next: () => number;

  constructor(seed: number) {
    this.next = mulberry32(seed);
  }

  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)];
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  text(length: number, alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789-_ {}[]":,\\/'): string {
    return Array.from({ length }, () => alphabet[this.int(0, alphabet.length - 1)]).join('');
  }

  /** Any JSON value, biased towards the shapes a careless client sends. */
  value(depth = 0): unknown {
    const kind = this.int(0, depth > 3 ? 3 : 6);
    switch (kind) {
      case 0:
        return this.pick(WEIRD_NUMBERS);
      case 1:
        return this.pick(WEIRD_STRINGS);
      case 2:
        return this.pick([true, false, null]);
      case 3:
        return this.text(this.int(0, 12));
      case 4:
        return Array.from({ length: this.int(0, 4) }, () => this.value(depth + 1));
      default:
        return Object.fromEntries(
          Array.from({ length: this.int(0, 4) }, () => [this.pick(KEYS), this.value(depth + 1)]),
        );
    }
  }
}

const WEIRD_NUMBERS = [0, -1, 1.5, -0.5, 0.1, 2 ** 31, 2 ** 53, 1e308, -1e308, -MAX_INT, 42, 7];
const WEIRD_STRINGS = [
  '',
  ' ',
  'null',
  'undefined',
  '0',
  '-1',
  '1.5',
  'NaN',
  'Infinity',
  '1e999',
  '\u0000',
  'a\u0000b',
  '\ud800',
  '\udfff-lone',
  '\u202eRTL',
  'e\u0301',
  '😀'.repeat(8),
  'ß𝔘𝔫𝔦𝔠𝔬𝔡𝔢',
  '\n\t\r',
  "'; DROP TABLE batches; --",
  '<script>alert(1)</script>',
  '%00',
  '\\',
  '"',
];
const KEYS = ['orderid', 'sku', 'qty', 'ref', 'eta', 'batchref', 'Qty', 'SKU', 'extra', '', '__x'];
const BAD_QTIES = [
  0,
  -1,
  -100,
  1.5,
  0.001,
  2 ** 31,
  2 ** 53,
  1e308,
  -MAX_INT,
  '1',
  '10',
  'NaN',
  'Infinity',
  '-Infinity',
  '',
  null,
  true,
  [],
  {},
  [1],
];
const BAD_DATES = [
  '2026-02-30',
  '2026-02-29',
  '2100-02-29',
  '2026-13-01',
  '2026-00-10',
  '2026-04-31',
  '2026-01-00',
  '0000-01-01',
  '2026-1-1',
  '26-01-01',
  '2026/01/01',
  '2026-01-01T00:00:00Z',
  ' 2026-01-01',
  '2026-01-01 ',
  '9999-99-99',
  'tomorrow',
  '',
  20_260_101,
  true,
  [],
  {},
];
const NON_JSON_TYPES = [
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/xml',
  'application/octet-stream',
  'text/html',
  undefined, // no content type at all
];

type Route = '/allocate' | '/add_batch';

interface HttpCase {
  route: Route;
  kind: string;
  body: Buffer;
  headers: Record<string, string>;
  /** What the SPEC accepts: only these may get a 2xx. */
  valid: boolean;
}

// The SPEC's validation rules, restated here so the test does not trust the service's schemas.
const isName = (v: unknown) => typeof v === 'string' && v.length >= 1 && v.length <= 255;
const isQty = (v: unknown) =>
  typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= MAX_INT;

function isCalendarDate(v: string): boolean {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(v);
  if (!match) return false;
  const [year, month, day] = match.slice(1).map(Number);
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
  // There is no year 0 in the calendar (1 BC is followed by AD 1).
  return year >= 1 && days !== undefined && day >= 1 && day <= days;
}

function isValidBody(route: Route, value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const body = value as Record<string, unknown>;
  if (route === '/allocate') return isName(body.orderid) && isName(body.sku) && isQty(body.qty);
  const eta = body.eta;
  const etaOk =
    eta === undefined || eta === null || (typeof eta === 'string' && isCalendarDate(eta));
  return isName(body.ref) && isName(body.sku) && isQty(body.qty) && etaOk;
}

function jsonCase(route: Route, kind: string, value: unknown): HttpCase {
  const body = Buffer.from(JSON.stringify(value) ?? 'null', 'utf8');
  return {
    route,
    kind,
    body,
    headers: { 'content-type': 'application/json' },
    valid: isValidBody(route, JSON.parse(body.toString('utf8'))),
  };
}

function rawCase(route: Route, kind: string, text: string | Buffer): HttpCase {
  const body = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  let valid: boolean;
  try {
    valid = isValidBody(route, JSON.parse(body.toString('utf8')));
  } catch {
    valid = false; // not JSON at all
  }
  return { route, kind, body, headers: { 'content-type': 'application/json' }, valid };
}

function validBase(gen: Gen, route: Route, i: number): Record<string, unknown> {
  const sku = `fuzz-sku-${SEED}-${gen.int(0, SKUS - 1)}`;
  const qty = gen.int(1, 20);
  if (route === '/allocate') return { orderid: `fuzz-order-${SEED}-${i}`, sku, qty };
  return { ref: `fuzz-batch-${SEED}-${i}`, sku, qty, eta: gen.pick([null, '2026-12-24']) };
}

function mutate(gen: Gen, route: Route, body: Record<string, unknown>): void {
  const fields = route === '/allocate' ? ['orderid', 'sku', 'qty'] : ['ref', 'sku', 'qty', 'eta'];
  const field = gen.pick(fields);
  switch (gen.int(0, 6)) {
    case 0:
      delete body[field];
      break;
    case 1:
      body[field] = gen.value(2);
      break;
    case 2:
      body.qty = gen.pick(BAD_QTIES);
      break;
    case 3:
      body[field === 'qty' ? 'sku' : field] = gen.chance(0.5) ? '' : 'x'.repeat(gen.int(256, 3000));
      break;
    case 4:
      if (route === '/add_batch') body.eta = gen.pick(BAD_DATES);
      else body.qty = gen.pick(BAD_QTIES);
      break;
    case 5:
      body[gen.pick(['Qty', 'SKU', 'order_id', 'reference'])] = body[field];
      delete body[field];
      break;
    default:
      body[gen.pick(KEYS)] = gen.value(1); // may or may not break it: the validator says
  }
}

/**
 * Every edge value of the lists above once, in an otherwise valid body, so each is tried
 * whatever the random draw picks.
 */
function corpusCases(route: Route): HttpCase[] {
  const sku = `fuzz-sku-${SEED}-0`;
  const base = (n: number): Record<string, unknown> =>
    route === '/allocate'
      ? { orderid: `fuzz-corpus-${SEED}-${n}`, sku, qty: 1 }
      : { ref: `fuzz-corpus-${SEED}-${n}`, sku, qty: 1, eta: null };
  const bodies: Record<string, unknown>[] = [];
  for (const qty of BAD_QTIES) bodies.push({ ...base(bodies.length), qty });
  if (route === '/add_batch') {
    for (const eta of BAD_DATES) bodies.push({ ...base(bodies.length), eta });
  }
  const names = route === '/allocate' ? ['orderid', 'sku'] : ['ref', 'sku'];
  for (const name of names) {
    for (const odd of WEIRD_STRINGS) bodies.push({ ...base(bodies.length), [name]: odd });
  }
  return bodies.map((body) => jsonCase(route, 'edge values', body));
}

/** One malformed (or, by chance, valid) request; `kind` names the family for the report. */
function httpCase(gen: Gen, route: Route, i: number): HttpCase {
  const roll = gen.int(0, 99);
  if (roll < 15) return jsonCase(route, 'random JSON value', gen.value());
  if (roll < 50) {
    const body = validBase(gen, route, i);
    for (let n = gen.int(1, 3); n > 0; n--) mutate(gen, route, body);
    return jsonCase(route, 'wrong fields', body);
  }
  if (roll < 60) {
    const body = validBase(gen, route, i);
    const field = gen.pick(route === '/allocate' ? ['orderid', 'sku'] : ['ref', 'sku']);
    body[field] = `${gen.pick(WEIRD_STRINGS)}${gen.chance(0.5) ? String(body[field]) : ''}`;
    return jsonCase(route, 'unicode and odd strings', body);
  }
  if (roll < 75) {
    const json = JSON.stringify(validBase(gen, route, i));
    const text = gen.pick([
      () => json.slice(0, gen.int(1, json.length - 1)), // truncated
      () => json.replace('}', ',}'), // trailing comma
      () => json.replace(/"/g, "'"), // single quotes
      () => json.replace(/"(\w+)":/g, '$1:'), // unquoted keys
      () =>
        json.replace(
          /"qty":\d+/,
          `"qty":${gen.pick(['NaN', 'Infinity', '1e999', '-1e999', '0x10', '+1', '01', '--1', '1.', '.5'])}`,
        ),
      () => `${json}${gen.pick(['}', ']', ',', 'x', '{}'])}`, // trailing garbage
      () => `// comment\n${json}`,
      () => gen.text(gen.int(1, 200)),
      () =>
        gen.pick(['undefined', 'NaN', '{', '[', '"', '{"a"', '\u0000', '\ufeff{}', 'nul', 'tru']),
      () => Buffer.concat([Buffer.from([0xff, 0xfe, 0xc3, 0x28]), Buffer.from(json)]),
    ])();
    return rawCase(route, 'invalid JSON text', text);
  }
  if (roll < 83) {
    const type = gen.pick(NON_JSON_TYPES);
    const base = validBase(gen, route, i);
    const text =
      type === 'application/x-www-form-urlencoded'
        ? new URLSearchParams(
            Object.entries(base).map(([k, v]): [string, string] => [k, String(v)]),
          ).toString()
        : JSON.stringify(base);
    const headers: Record<string, string> = type === undefined ? {} : { 'content-type': type };
    return { route, kind: 'wrong content type', body: Buffer.from(text), headers, valid: false };
  }
  if (roll < 88) {
    const encoding = gen.pick(['gzip', 'deflate', 'br']);
    const zipped = gzipSync(JSON.stringify(validBase(gen, route, i)));
    const body = gen.chance(0.5)
      ? Buffer.from(gen.text(gen.int(1, 100)))
      : zipped.subarray(0, gen.int(1, zipped.length - 1)); // truncated, or gzip sent as br
    const headers = { 'content-type': 'application/json', 'content-encoding': encoding };
    return { route, kind: 'corrupt content encoding', body, headers, valid: false };
  }
  if (roll < 92) {
    const body = { ...validBase(gen, route, i), padding: 'p'.repeat(gen.int(17_000, 40_000)) };
    return { ...jsonCase(route, 'over 16 kB', body), valid: false };
  }
  if (roll < 95) {
    const depth = gen.int(500, 4000);
    const [open, close] = gen.chance(0.5) ? ['[', ']'] : ['{"a":', '}'];
    return rawCase(route, 'deeply nested', `${open.repeat(depth)}1${close.repeat(depth)}`);
  }
  return rawCase(route, 'empty body', gen.pick(['', ' ', '\n', '\t\r\n']));
}

interface HttpResult {
  status: number; // 0: no answer
  text: string;
}

async function send(url: string, c: HttpCase): Promise<HttpResult> {
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

async function sendAllCases(url: string, cases: HttpCase[], concurrency: number) {
  const results = new Array<HttpResult>(cases.length);
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const i = next++;
      results[i] = await send(url, cases[i]);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return results;
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

function preview(buffer: Buffer): string {
  const text = JSON.stringify(buffer.toString('utf8'));
  return text.length > 90 ? `${text.slice(0, 90)}...(${buffer.length} bytes)` : text;
}

function countOf<T>(items: T[], key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
}

/** The tag makes each poison message findable among everyone's dead letters. */
const tagOf = (i: number) => `<fz:${SEED}:${i}>`;
const TAG = new RegExp(`<fz:${SEED}:(\\d+)>`);

/** A `change_batch_quantity` message that must be set aside; every one carries its tag. */
function poisonMessage(gen: Gen, i: number): { kind: string; payload: string | Buffer } {
  const tag = tagOf(i);
  const unknown = `unknown-${tag}`;
  const roll = gen.int(0, 99);
  if (roll < 20) {
    const text = gen.pick([
      () => `${gen.text(gen.int(0, 40))} ${tag}`,
      () => JSON.stringify({ batchref: unknown, qty: 1 }).slice(0, gen.int(5, 20)) + tag,
      () => `{'batchref': '${unknown}', 'qty': 1}`,
      () => `{batchref: "${unknown}", qty: 1}`,
      () =>
        `{"batchref": "${unknown}", "qty": ${gen.pick(['NaN', 'Infinity', '0x10', '+1', '01'])}}`,
      () => `${JSON.stringify({ batchref: unknown, qty: 1 })}${gen.pick(['}', ',', 'x'])}`,
      () => tag,
    ])();
    return { kind: 'not JSON', payload: text };
  }
  if (roll < 22) return { kind: 'NUL byte', payload: `\u0000${tag}\u0000` };
  if (roll < 25) {
    const bytes = Buffer.concat([Buffer.from([0xff, 0xfe, 0xc3, 0x28]), Buffer.from(tag)]);
    return { kind: 'invalid UTF-8', payload: bytes };
  }
  if (roll < 45) {
    const value = gen.pick([
      () => [tag, gen.value(1)],
      () => tag,
      () => ({ tag }),
      () => ({ batchref: unknown }),
      () => ({ qty: gen.int(0, 100), tag }),
      () => ({ batchref: gen.pick([42, null, true, [], {}, [unknown]]), qty: 1, tag }),
      () => ({ batchref: unknown, qty: gen.pick([null, true, '5', [], {}, [5]]) }),
      () => ({ data: { batchref: unknown, qty: 1 } }),
      () => ({ batchref: '', qty: 1, tag }),
      () => ({ batchref: `${'x'.repeat(gen.int(256, 2000))}${tag}`, qty: 1 }),
    ])();
    return { kind: 'wrong shape', payload: JSON.stringify(value) };
  }
  if (roll < 65) {
    const qty = gen.pick([-1, -100, 1.5, 0.001, -0.5, 2 ** 31, 2 ** 53, 1e300, -MAX_INT]);
    return { kind: 'bad qty', payload: JSON.stringify({ batchref: unknown, qty }) };
  }
  const batchref = gen.pick([unknown, `${gen.pick(WEIRD_STRINGS)}${unknown}`]);
  return { kind: 'unknown batch', payload: JSON.stringify({ batchref, qty: gen.int(0, 1000) }) };
}

async function postJson(url: string, body: unknown): Promise<number> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(ANSWER_TIMEOUT_MS),
  });
  await response.text();
  return response.status;
}

describe('fuzz', () => {
  let service: ServiceProcess;
  before(async () => {
    service = await startServiceProcess({ LOG_LEVEL: 'error' });
  });
  after(async () => {
    await service.stop();
  });

  it('malformed HTTP bodies get a 4xx with a message, never a 5xx', async function () {
    this.timeout(120_000);
    // The skus exist from the start, so a body reaches the same code on every run (an unknown
    // sku would stop it early, before any query that uses its other fields).
    for (let k = 0; k < SKUS; k++) {
      const stock = { ref: `fuzz-stock-${SEED}-${k}`, sku: `fuzz-sku-${SEED}-${k}`, qty: 100_000 };
      expect([201, 409]).to.include(await postJson(`${service.url}/add_batch`, stock));
    }
    const gen = new Gen(SEED);
    const cases: HttpCase[] = [];
    for (const route of ['/add_batch', '/allocate'] as const) {
      cases.push(...corpusCases(route));
      for (let i = 0, malformed = 0; malformed < MALFORMED_PER_ROUTE; i++) {
        const c = httpCase(gen, route, i);
        cases.push(c);
        if (!c.valid) malformed++;
      }
    }
    const addBatches = cases.filter((c) => c.route === '/add_batch');
    const allocations = cases.filter((c) => c.route === '/allocate');

    // Batches first: a valid add_batch among them may create an odd sku that an allocation
    // names, and it must exist for the allocation on the first run as on every later one.
    const results = [
      ...(await sendAllCases(service.url, addBatches, 4)),
      ...(await sendAllCases(service.url, allocations, 4)),
    ];
    // ...and afterwards it still does its job.
    const [sku, ref] = [randomSku('fuzz'), randomBatchref('fuzz')];
    const added = await postJson(`${service.url}/add_batch`, { ref, sku, qty: 5 });
    const allocated = await postJson(`${service.url}/allocate`, {
      orderid: 'fuzz-after',
      sku,
      qty: 1,
    });

    const sent = [...addBatches, ...allocations];
    const problems = sent
      .map((c, i) => ({ c, r: results[i], why: violation(c, results[i]) }))
      .filter((p) => p.why !== undefined);
    const malformed = results.filter((_, i) => !sent[i].valid);
    const classes = (rs: HttpResult[], lo: number, hi: number) =>
      rs.filter((r) => r.status >= lo && r.status < hi).length;
    console.log(
      `      http fuzz: bodies sent ${cases.length} (malformed ${malformed.length}), ` +
        `2xx ${classes(results, 200, 300)}, 4xx ${classes(results, 400, 500)} ` +
        `${JSON.stringify(
          countOf(
            results.filter((r) => r.status >= 400 && r.status < 500),
            (r) => String(r.status),
          ),
        )}, ` +
        `5xx ${classes(results, 500, 600)}, no answer ${classes(results, 0, 1)}`,
    );
    // One line per kind of failure, with a few of its inputs, so a failure says what to fix.
    const byKind = new Map<string, typeof problems>();
    for (const p of problems) {
      const key = `${p.c.route} [${p.c.kind}] ${p.why}`;
      byKind.set(key, [...(byKind.get(key) ?? []), p]);
    }
    const report = [...byKind].map(
      ([key, ps]) =>
        `${key}: ${ps.length}x, e.g. ` +
        ps
          .slice(0, 3)
          .map(
            (p) =>
              `${preview(p.c.body)} ${JSON.stringify(p.c.headers)} -> ${p.r.text.slice(0, 80)}`,
          )
          .join(' | '),
    );
    expect(malformed.length).to.be.at.least(1000);
    expect(report, 'answers that break the contract').to.deep.equal([]);
    expect(service.isRunning(), service.output()).to.equal(true);
    expect([added, allocated]).to.deep.equal([201, 202]);
  });

  it('malformed Redis messages are set aside with a reason and the consumer keeps going', async function () {
    this.timeout(120_000);
    const db = await testDb();
    const gen = new Gen(SEED + 1);
    const messages = Array.from({ length: POISON_MESSAGES }, (_, i) => poisonMessage(gen, i));
    const [sku, ref] = [randomSku('fuzz-redis'), randomBatchref('fuzz-redis')];
    expect(await postJson(`${service.url}/add_batch`, { ref, sku, qty: 10 })).to.equal(201);
    // Earlier runs sent the same messages: only dead letters written after this point count.
    const top = await db('dead_letters').max('id as watermark').first();
    const watermark = String(top?.watermark ?? 0);
    const publisher = new Redis(process.env.REDIS_URL as string);

    try {
      for (let start = 0; start < messages.length; start += 100) {
        const pipeline = publisher.pipeline();
        for (const m of messages.slice(start, start + 100))
          pipeline.publish('change_batch_quantity', m.payload);
        await pipeline.exec();
      }
      // Messages are handled in order, so once this one shows, every poison message was seen.
      await publisher.publish('change_batch_quantity', JSON.stringify({ batchref: ref, qty: 3 }));
    } finally {
      publisher.disconnect();
    }
    await eventually(async () => {
      const row = await db('batches').first('purchased_quantity').where({ reference: ref });
      expect(row?.purchased_quantity).to.equal(3);
    }, 30_000);

    const letters: { source: string; payload: string; reason: string }[] = await db('dead_letters')
      .select('source', 'payload', 'reason')
      .where('id', '>', watermark)
      .andWhere('payload', 'like', `%<fz:${SEED}:%`);
    const setAside = new Map<number, { reason: string; source: string }>();
    for (const letter of letters) {
      const match = TAG.exec(letter.payload);
      if (match) setAside.set(Number(match[1]), letter);
    }
    const missing = messages.map((m, i) => ({ ...m, i })).filter((m) => !setAside.has(m.i));
    const unstored = service
      .output()
      .split('\n')
      .filter((line) => line.includes('could not store the dead letter'))
      .map((line) => line.slice(0, 400));
    console.log(
      `      redis fuzz: messages sent ${messages.length}, dead-lettered ${setAside.size}, ` +
        `missing ${missing.length} ${JSON.stringify(countOf(missing, (m) => m.kind))}, ` +
        `logged as not stored ${unstored.length}`,
    );
    expect(
      missing
        .map((m) => `${m.kind}: ${JSON.stringify(m.payload.toString()).slice(0, 80)}`)
        .slice(0, 10),
      `poison messages with no dead letter; the service logged:\n${unstored.slice(0, 3).join('\n')}`,
    ).to.deep.equal([]);
    const withoutReason = [...setAside.values()].filter(
      (l) => !(typeof l.reason === 'string' && l.reason.trim() !== ''),
    );
    expect(withoutReason).to.deep.equal([]);
    expect(new Set([...setAside.values()].map((l) => l.source))).to.deep.equal(
      new Set(['change_batch_quantity']),
    );
    expect(service.isRunning(), service.output()).to.equal(true);
    const listed = await fetch(`${service.url}/dead_letters?limit=5`, {
      signal: AbortSignal.timeout(ANSWER_TIMEOUT_MS),
    });
    const entries = (await listed.json()) as { payload?: unknown; reason?: unknown }[];
    expect(listed.status).to.equal(200);
    expect(entries).to.have.length(5);
    for (const entry of entries) {
      expect(entry.payload).to.be.a('string');
      expect(entry.reason).to.be.a('string').and.not.empty;
    }
  });
});
