// SPEC section 3: a known path with a method it does not serve is a 405 with `Allow` and a JSON
// body, whatever the method; an unknown path is a JSON 404.
import { expect } from 'chai';
import request from 'supertest';
import { startTestService, type TestService } from '../support/in_process';

describe('HTTP methods and paths', () => {
  let t: TestService;
  before(async () => {
    t = await startTestService();
  });
  after(async () => {
    await t.stop();
  });
  /** supertest names its methods in lower case, PROPFIND included. */
  const send = (method: string, path: string): request.Test =>
    (request(t.app.callback()) as unknown as Record<string, (p: string) => request.Test>)[
      method.toLowerCase()
    ](path);

  for (const method of ['GET', 'PUT', 'DELETE', 'PROPFIND']) {
    it(`${method} /allocate is a 405 naming the allowed methods, with a JSON message`, async () => {
      const response = await send(method, '/allocate');

      expect(response.status).to.equal(405);
      expect(response.headers.allow).to.equal('POST');
      expect(response.headers['content-type']).to.match(/^application\/json/);
      expect(response.body.message).to.be.a('string').and.contain(method);
    });
  }

  for (const path of ['/Allocate', '/ALLOCATE', '/allocate/']) {
    it(`${path} is the router's /allocate: GET is a 405 allowing POST`, async () => {
      const response = await send('GET', path);

      expect(response.status).to.equal(405);
      expect(response.headers.allow).to.equal('POST');
    });
  }

  it('POST /allocations/:orderid is a 405 allowing GET and HEAD', async () => {
    const response = await request(t.app.callback()).post('/allocations/order-1').send({});

    expect(response.status).to.equal(405);
    expect(response.headers.allow?.split(', ').sort()).to.deep.equal(['GET', 'HEAD']);
    expect(response.body.message).to.be.a('string');
  });

  it('OPTIONS on a known path names the allowed methods', async () => {
    const response = await request(t.app.callback()).options('/add_batch');

    expect(response.status).to.equal(204);
    expect(response.headers.allow).to.equal('POST');
  });

  for (const method of ['GET', 'POST', 'PROPFIND']) {
    it(`${method} on an unknown path is a JSON 404`, async () => {
      const response = await send(method, '/no/such/path');

      expect(response.status).to.equal(404);
      expect(response.headers['content-type']).to.match(/^application\/json/);
      expect(response.body.message).to.be.a('string');
    });
  }

  it('a route that finds nothing still answers 404, not 405', async () => {
    const response = await request(t.app.callback()).get('/docs/assets/no-such-file.js');

    expect(response.status).to.equal(404);
    expect(response.body.message).to.be.a('string');
  });
});
