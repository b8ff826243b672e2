// SPEC section 3, the details a client meets: a conditional GET gets its 304 whatever its
// Cache-Control says; no path or query value is a 5xx; batches are listed in the order the
// domain allocates from them.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { eventually } from '../support/eventually';
import { startTestService, type TestService } from '../support/in_process';
import { randomBatchref, randomOrderid, randomSku } from '../support/random_refs';
import { openRaw } from '../support/raw_http';

describe('HTTP details', () => {
  let t: TestService;
  let server: Server;
  let url: string;
  before(async () => {
    t = await startTestService();
    server = createServer(t.service.httpListener()); // what main.ts serves
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise((resolve) => server.close(resolve));
    await t.stop();
  });

  const get = (path: string, headers: Record<string, string> = {}) =>
    fetch(`${url}${path}`, { headers, signal: AbortSignal.timeout(10_000) });
  const post = (path: string, body: unknown) =>
    fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });

  describe('a conditional GET gets 304 whatever its Cache-Control says', () => {
    let sku: string;
    let orderid: string;
    before(async () => {
      [sku, orderid] = [randomSku('etag'), randomOrderid()];
      expect((await post('/add_batch', { ref: randomBatchref(), sku, qty: 10 })).status).to.equal(
        201,
      );
      expect((await post('/allocate', { orderid, sku, qty: 1 })).status).to.equal(202);
      await eventually(async () =>
        expect((await get(`/allocations/${orderid}`)).status).to.equal(200),
      );
    });

    for (const route of ['allocations', 'products']) {
      const path = () => `/${route}/${route === 'products' ? sku : orderid}`;
      const cases: [string, (etag: string) => Record<string, string>][] = [
        // fetch() itself adds Cache-Control: no-cache to a request with If-None-Match
        ['as fetch() sends it', (etag) => ({ 'If-None-Match': etag })],
        ['no-cache', (etag) => ({ 'If-None-Match': etag, 'Cache-Control': 'no-cache' })],
        ['max-age=0', (etag) => ({ 'If-None-Match': etag, 'Cache-Control': 'max-age=0' })],
        ['a weak tag in a list', (etag) => ({ 'If-None-Match': `"other", W/${etag}` })],
      ];
      for (const [name, headers] of cases) {
        it(`GET /${route}/:id, ${name}`, async () => {
          const first = await get(path());
          const etag = first.headers.get('etag') as string;
          expect(first.status).to.equal(200);
          expect(etag).to.match(/^"[\w-]+"$/);

          const again = await get(path(), headers(etag));

          expect(again.status).to.equal(304);
          expect(await again.text()).to.equal('');
        });
      }

      it(`GET /${route}/:id with a tag that does not match is a 200 with the body`, async () => {
        const response = await get(path(), { 'If-None-Match': '"other"' });

        expect(response.status).to.equal(200);
        expect(await response.json()).to.not.equal(null);
      });
    }
  });

  describe('no path or query value is a 5xx', () => {
    const KEYS = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'];
    const paths = (key: string) => [
      `/console/assets/${key}`,
      `/console/dead_letters?done=${key}`,
      `/console/dead_letters/1?done=${key}`,
      `/console/products/${key}`,
      `/console/orders/${key}`,
      `/console/search?q=${key}`,
      `/allocations/${key}`,
      `/products/${key}`,
      `/dead_letters/${key}`,
      `/dead_letters?limit=${key}&source=${key}`,
      `/docs/assets/${key}`,
      `/${key}`,
      `/allocations/x?${key}=1&${key}=2`,
    ];

    for (const key of KEYS) {
      it(`${key} as a path segment or a query value`, async () => {
        const answers: string[] = [];
        for (const path of paths(key)) {
          const response = await get(path);
          const type = response.headers.get('content-type') ?? '';
          answers.push(`${response.status} ${type.split(';')[0]} ${path}`);
          expect(response.status, path).to.be.below(500);
          if (type.startsWith('application/json') && response.status >= 400) {
            expect(await response.json(), path)
              .to.have.property('message')
              .that.is.a('string');
          }
        }
        // the ones naming nothing known are not found, as JSON outside the console
        expect(answers).to.include(`404 application/json /allocations/${key}`);
        expect(answers).to.include(`404 application/json /products/${key}`);
        expect(answers.find((a) => a.endsWith(`/console/assets/${key}`))).to.match(/^404 /);
        expect(answers.find((a) => a.includes(`?done=${key}`))).to.match(/^200 text\/html/);
      });
    }

    it('a command naming them is a 400 with a message', async () => {
      for (const key of KEYS) {
        const response = await post('/allocate', { orderid: key, sku: key, qty: 1 });

        expect(response.status).to.equal(400);
        expect(await response.json()).to.deep.equal({ message: `Invalid sku ${key}` });
      }
    });
  });

  it('answers a request target that is not a URL with 400, and keeps serving', async () => {
    const { port } = server.address() as AddressInfo;
    // (Node's own parser refuses control characters in a target, with a 400 of its own)
    for (const target of ['http://[::1', 'http://[::1/allocate']) {
      const answer = await openRaw(
        port,
        `POST ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`,
      ).answer;

      expect(answer.status, target).to.equal(400);
      expect(JSON.parse(answer.body)).to.have.property('message').that.is.a('string');
    }
    expect((await get('/healthz')).status).to.equal(200);
  });

  it('lists batches in the order allocation takes them (refs past U+FFFF included)', async () => {
    const sku = randomSku('order');
    const tail = randomBatchref();
    // Same eta: only the refs decide. By UTF-16 code unit (the domain) the emoji's surrogate
    // pair (0xD83D...) comes before U+FFFD; by code point (SQL's "C" collation) after.
    const [replacement, emoji] = [`\ufffd-lot-${tail}`, `\u{1F600}-lot-${tail}`];
    for (const ref of [replacement, emoji]) {
      const added = await post('/add_batch', { ref, sku, qty: 1, eta: '2031-01-01' });
      expect(added.status).to.equal(201);
    }

    const first = await post('/allocate', { orderid: randomOrderid(), sku, qty: 1 });
    const product = await get(`/products/${encodeURIComponent(sku)}`);

    const allocatedFrom = ((await first.json()) as { batchref: string }).batchref;
    const listed = ((await product.json()) as { batches: { ref: string }[] }).batches;
    expect(listed.map((batch) => batch.ref)).to.deep.equal([allocatedFrom, replacement]);
    expect(allocatedFrom).to.equal(emoji);
  });
});
