import { expect } from 'chai';
import request from 'supertest';
import { consoleSessionValue } from '../../src/allocation/entrypoints/http/auth';
import { randomBatchref, randomSku } from '../support/random_refs';
import { startTestService, type TestService } from '../support/in_process';

const ADMIN_TOKEN = 'console-test-admin-token';
const HTML = 'text/html,application/xhtml+xml,*/*;q=0.8';
const SESSION = `console_session=${consoleSessionValue(ADMIN_TOKEN)}`;

describe('operator console over HTTP', () => {
  let t: TestService;
  let http: ReturnType<typeof request>;
  before(async () => {
    t = await startTestService({ auth: { adminToken: ADMIN_TOKEN } });
    http = request(t.app.callback());
  });
  after(async () => {
    await t.stop();
  });

  const signIn = (token: string, next: string) =>
    http
      .post('/console/sign_in')
      .set('Sec-Fetch-Site', 'same-origin')
      .type('form')
      .send({ token, next });

  it('sends a browser without a session to the sign-in page', async () => {
    const response = await http.get('/console/products/SMALL-TABLE').set('Accept', HTML);

    expect(response.status).to.equal(302);
    expect(response.headers.location).to.equal(
      '/console/sign_in?next=%2Fconsole%2Fproducts%2FSMALL-TABLE',
    );
  });

  it('answers a non-HTML client without a session with 401 and WWW-Authenticate', async () => {
    const response = await http.get('/console').set('Accept', 'application/json');

    expect(response.status).to.equal(401);
    expect(response.headers['www-authenticate']).to.match(/^Bearer/);
    expect(response.body).to.have.property('message').that.is.a('string');
  });

  it('refuses a wrong token at sign-in and sets no cookie', async () => {
    const response = await signIn('not-the-token', '/console');

    expect(response.status).to.equal(401);
    expect(response.headers['set-cookie']).to.equal(undefined);
    expect(response.text).to.contain('not the ADMIN_TOKEN');
  });

  it('signs in with the token: an HTTP-only, same-site session cookie for /console', async () => {
    const response = await signIn(ADMIN_TOKEN, '/console/outbox');

    expect(response.status).to.equal(302);
    expect(response.headers.location).to.equal('/console/outbox');
    const cookie = (response.headers['set-cookie'] as unknown as string[])[0];
    expect(cookie).to.contain(SESSION);
    expect(cookie).to.match(/; path=\/console/i);
    expect(cookie).to.match(/; httponly/i);
    expect(cookie).to.match(/; samesite=lax/i);
  });

  it('sends a sign-in only to console pages, never to another site', async () => {
    const response = await signIn(ADMIN_TOKEN, '//evil.example/console');

    expect(response.status).to.equal(302);
    expect(response.headers.location).to.equal('/console');
  });

  it('serves pages to the session cookie and to the Bearer token alike', async () => {
    const [sku, ref] = [randomSku(), randomBatchref()];
    await http.post('/add_batch').send({ ref, sku, qty: 7, eta: null }).expect(201);

    const byCookie = await http.get(`/console/products/${sku}`).set('Cookie', SESSION);
    const byBearer = await http
      .get(`/console/products/${sku}`)
      .set('Authorization', `Bearer ${ADMIN_TOKEN}`);

    expect([byCookie.status, byBearer.status]).to.deep.equal([200, 200]);
    expect(byCookie.text).to.contain(ref);
    expect(byCookie.headers['content-security-policy']).to.contain("frame-ancestors 'none'");
  });

  it('refuses a cross-site form post even with a valid session', async () => {
    const response = await http
      .post('/console/sign_out')
      .set('Cookie', SESSION)
      .set('Sec-Fetch-Site', 'cross-site')
      .set('Origin', 'http://evil.example')
      .set('Accept', HTML);

    expect(response.status).to.equal(403);
    expect(response.headers['set-cookie']).to.equal(undefined);
  });

  it('refuses a form post from another origin when the browser sends no Sec-Fetch-Site', async () => {
    const response = await http
      .post('/console/sign_in')
      .set('Origin', 'http://evil.example')
      .type('form')
      .send({ token: ADMIN_TOKEN });

    expect(response.status).to.equal(403);
    expect(response.body).to.deep.equal({
      message: 'Refused: this form was not sent from the console itself',
    });
  });

  it('escapes what it shows: a batch ref cannot inject markup', async () => {
    const [sku, ref] = [randomSku(), `<script>alert(1)</script>${randomBatchref()}`];
    await http.post('/add_batch').send({ ref, sku, qty: 3, eta: null }).expect(201);

    const response = await http.get(`/console/products/${sku}`).set('Cookie', SESSION);

    expect(response.text).not.to.contain('<script>alert(1)');
    expect(response.text).to.contain('&lt;script&gt;alert(1)&lt;/script&gt;');
  });

  it('answers an unknown sku, order or dead letter with a 404 page that says what to do', async () => {
    const unknown = randomSku('missing');

    const responses = await Promise.all(
      [
        `/console/products/${unknown}`,
        `/console/orders/${unknown}`,
        '/console/dead_letters/abc',
      ].map((path) => http.get(path).set('Cookie', SESSION)),
    );

    expect(responses.map((r) => r.status)).to.deep.equal([404, 404, 404]);
    expect(responses[0].text).to.contain('POST /add_batch');
  });

  it('searches a sku first, then an order id', async () => {
    const [sku, ref] = [randomSku(), randomBatchref()];
    await http.post('/add_batch').send({ ref, sku, qty: 3, eta: null }).expect(201);

    const found = await http.get(`/console/search?q=${sku}`).set('Cookie', SESSION);
    const missing = await http.get('/console/search?q=nothing-like-it').set('Cookie', SESSION);

    expect(found.status).to.equal(302);
    expect(found.headers.location).to.equal(`/console/products/${sku}`);
    expect(missing.status).to.equal(404);
  });

  it('shows the outbox backlog and the deliveries that keep failing', async () => {
    const [db, sku] = [t.service.db(), randomSku('stuck')];
    // A message the relay has failed to deliver, not due again for an hour (so it stays put).
    const [{ id }] = await db('outbox')
      .insert({
        key: sku,
        type: 'Allocated',
        handler: 'line_allocated',
        payload: {},
        attempts: 4,
        last_error: 'Redis unavailable: connect ECONNREFUSED',
        next_attempt_at: db.raw("now() + interval '1 hour'"),
      })
      .returning('id');
    try {
      const response = await http.get('/console/outbox').set('Cookie', SESSION);

      expect(response.status).to.equal(200);
      expect(response.text).to.contain(sku).and.to.contain('connect ECONNREFUSED');
      expect(response.text).to.match(/data-field="backlog">\s*[1-9]/);
    } finally {
      await db('outbox').where({ id }).delete();
    }
  });
});
