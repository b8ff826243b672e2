import { expect } from 'chai';
import request from 'supertest';
import { consoleSessionValue } from '../../src/allocation/entrypoints/http/auth';
import { startTestService, type TestService } from '../support/in_process';

const ADMIN_TOKEN = 'console-deliveries-admin-token';
const SESSION = `console_session=${consoleSessionValue(ADMIN_TOKEN)}`;

describe('console deliveries page', () => {
  let t: TestService;
  let http: ReturnType<typeof request>;
  before(async () => {
    t = await startTestService({ auth: { adminToken: ADMIN_TOKEN } });
    http = request(t.app.callback());
  });
  after(async () => {
    await http.post('/deliveries/email/resume').set('Authorization', `Bearer ${ADMIN_TOKEN}`);
    await t.stop();
  });

  const post = (path: string) =>
    http.post(path).set('Cookie', SESSION).set('Sec-Fetch-Site', 'same-origin').type('form');
  const stateOf = async (handler: string) => {
    const page = await http.get('/console/deliveries').set('Cookie', SESSION);
    const row = new RegExp(
      `data-handler="${handler}"[\\s\\S]*?data-field="state">\\s*<span[^>]*>([a-z ]+)<`,
    );
    return row.exec(page.text)?.[1];
  };

  it('shows every handler with its state, its backlog and a button', async () => {
    const response = await http.get('/console/deliveries').set('Cookie', SESSION);

    expect(response.status).to.equal(200);
    for (const handler of ['line_allocated', 'email', 'inbound']) {
      expect(response.text).to.contain(`data-handler="${handler}"`);
    }
    expect(response.text).to.contain('href="/console/deliveries"');
    expect(response.text).to.match(/<button[^>]*>\s*Pause\s*<\/button>/);
  });

  it('pauses and resumes a handler from its button, as the API does', async () => {
    const paused = await post('/console/deliveries/email/pause');
    const whilePaused = await stateOf('email');
    const api = await http.get('/deliveries').set('Authorization', `Bearer ${ADMIN_TOKEN}`);
    const resumed = await post('/console/deliveries/email/resume');

    expect(paused.status).to.equal(302);
    expect(paused.headers.location).to.equal('/console/deliveries?done=paused');
    expect(whilePaused).to.equal('paused');
    expect(
      (api.body as { handler: string; state: string }[]).find((e) => e.handler === 'email'),
    ).to.include({ state: 'paused' });
    expect(resumed.status).to.equal(302);
    expect(await stateOf('email')).to.equal('running');
  });

  it('refuses a cross-site pause, and says so for an unknown handler', async () => {
    const crossSite = await http
      .post('/console/deliveries/email/pause')
      .set('Cookie', SESSION)
      .set('Sec-Fetch-Site', 'cross-site');
    const unknown = await post('/console/deliveries/nothing/pause');

    expect(crossSite.status).to.equal(403);
    expect(await stateOf('email')).to.equal('running');
    expect(unknown.status).to.equal(404);
    expect(unknown.text).to.contain('No delivery handler nothing');
  });
});
