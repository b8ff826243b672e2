import { expect } from 'chai';
import request from 'supertest';
import { consoleSessionValue } from '../../src/allocation/entrypoints/http/auth';
import { randomBatchref, randomOrderid, randomSku } from '../support/random_refs';
import { startTestService, type TestService } from '../support/in_process';

const API_TOKEN = 'api-token-for-tests';
const ADMIN_TOKEN = 'admin-token-for-tests';

type Call = [method: 'get' | 'post' | 'delete', path: string, body?: object];

const sku = randomSku('auth');
const API_ROUTES: Call[] = [
  ['post', '/add_batch', { ref: randomBatchref(), sku, qty: 10 }],
  ['post', '/allocate', { orderid: randomOrderid(), sku, qty: 1 }],
  ['get', `/allocations/${randomOrderid()}`],
  ['get', `/products/${sku}`],
];
const ADMIN_ROUTES: Call[] = [
  ['get', '/dead_letters'],
  ['get', '/dead_letters/999999999'],
  ['post', '/dead_letters/999999999/replay'],
  ['delete', '/dead_letters/999999999'],
  ['get', '/metrics'],
];
const OPEN_ROUTES: Call[] = [
  ['get', '/healthz'],
  ['get', '/readyz'],
  ['get', '/docs'],
  ['get', '/openapi.json'],
  ['get', '/asyncapi.json'],
];

describe('auth', () => {
  let t: TestService;
  before(async () => {
    t = await startTestService({ auth: { apiToken: API_TOKEN, adminToken: ADMIN_TOKEN } });
  });
  after(async () => {
    await t.stop();
  });

  const send = ([method, path, body]: Call, headers: Record<string, string> = {}) => {
    const req = request(t.app.callback())[method](path).set(headers);
    return body ? req.send(body) : req;
  };
  const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

  const expectRefused = (response: request.Response) => {
    expect(response.status).to.equal(401);
    expect(response.headers['www-authenticate']).to.match(/^Bearer\b/);
    expect(response.body.message).to.be.a('string');
  };

  for (const [routes, token, otherToken] of [
    [API_ROUTES, API_TOKEN, ADMIN_TOKEN],
    [ADMIN_ROUTES, ADMIN_TOKEN, API_TOKEN],
  ] as const) {
    for (const call of routes) {
      const name = `${call[0].toUpperCase()} ${call[1]}`;

      it(`${name} refuses no token, a wrong one and the other group's, and serves the right one`, async () => {
        const none = await send(call);
        const wrong = await send(call, bearer(`${token}x`));
        const other = await send(call, bearer(otherToken));
        const right = await send(call, bearer(token));

        expectRefused(none);
        expectRefused(wrong);
        expectRefused(other);
        expect(right.status).to.be.oneOf([200, 201, 202, 404]);
      });
    }
  }

  for (const call of OPEN_ROUTES) {
    it(`${call[0].toUpperCase()} ${call[1]} stays open`, async () => {
      const none = await send(call);
      const wrong = await send(call, bearer('wrong'));

      expect(none.status).to.not.equal(401);
      expect(wrong.status).to.not.equal(401);
    });
  }

  it('health, readiness and the docs answer 200 without a token', async () => {
    for (const call of OPEN_ROUTES.slice(0, 4)) {
      expect((await send(call)).status, call[1]).to.equal(200);
    }
  });

  it("accepts the console's session cookie on operator routes, and only the right one", async () => {
    const cookie = (value: string) => ({ Cookie: `console_session=${value}` });

    const right = await send(['get', '/dead_letters'], cookie(consoleSessionValue(ADMIN_TOKEN)));
    const wrong = await send(['get', '/dead_letters'], cookie(consoleSessionValue('guess')));
    const onApi = await send(['get', `/products/${sku}`], cookie(consoleSessionValue(ADMIN_TOKEN)));

    expect(right.status).to.equal(200);
    expectRefused(wrong);
    expectRefused(onApi);
  });

  it('refuses a token sent without the Bearer scheme', async () => {
    const response = await send(['get', '/metrics'], { Authorization: ADMIN_TOKEN });

    expectRefused(response);
  });
});
