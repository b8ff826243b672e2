// The console as an operator uses it: Debian's chromium, driven by playwright-core, against the
// service listening on a real port. With CONSOLE_SCREENSHOTS=DIR (make console-screenshots) it
// also saves a screenshot of each page there.
import { expect } from 'chai';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Redis } from 'ioredis';
import type { Browser, Page } from 'playwright-core';
import request from 'supertest';
import { launchChromium } from '../support/browser';
import { eventually } from '../support/eventually';
import { randomBatchref, randomOrderid, randomSku } from '../support/random_refs';
import { startTestService, type TestService } from '../support/in_process';
import { redisUrl } from '../support/redis';

const ADMIN_TOKEN = 'console-browser-test-token';
const SCREENSHOTS = process.env.CONSOLE_SCREENSHOTS;

describe('operator console in a browser', function () {
  // Installing chromium with apt-get on a fresh machine takes a few minutes, once.
  this.timeout(600_000);
  let t: TestService;
  let server: http.Server;
  let base: string;
  let browser: Browser;
  let page: Page;
  const [sku, othersku, orderid] = [randomSku('TABLE'), randomSku('LAMP'), randomOrderid()];
  const [warehouse, december, christmas] = [
    randomBatchref('warehouse'),
    randomBatchref('dec01'),
    randomBatchref('dec24'),
  ];
  const [lamps, lateRef] = [randomBatchref('lamps'), randomBatchref('late')];

  before(async () => {
    t = await startTestService({ auth: { adminToken: ADMIN_TOKEN } });
    server = await new Promise((resolve) => {
      const s = t.app.listen(0, '127.0.0.1', () => resolve(s));
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await arrangeStock();
    browser = await launchChromium();
    const context = await browser.newContext({
      viewport: { width: 1280, height: 800 },
      locale: 'en-GB',
      timezoneId: 'Europe/Paris',
    });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
  });
  after(async () => {
    await browser?.close();
    server?.close();
    await t?.stop();
  });

  /** Three batches added out of preference order; an order with a line on two skus. */
  async function arrangeStock(): Promise<void> {
    const api = request(t.app.callback());
    const add = (ref: string, s: string, qty: number, eta: string | null) =>
      api.post('/add_batch').send({ ref, sku: s, qty, eta }).expect(201);
    await add(christmas, sku, 50, '2026-12-24');
    await add(december, sku, 30, '2026-12-01');
    await add(warehouse, sku, 20, null);
    await add(lamps, othersku, 10, null);
    await api.post('/allocate').send({ orderid, sku, qty: 5 }).expect(202);
    await api.post('/allocate').send({ orderid: randomOrderid(), sku, qty: 18 }).expect(202);
    await api.post('/allocate').send({ orderid, sku: othersku, qty: 3 }).expect(202);
  }

  async function screenshot(name: string): Promise<void> {
    if (!SCREENSHOTS) return;
    await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
  }

  /** Types into the search box and presses Enter, as a keyboard user would. */
  async function search(value: string): Promise<void> {
    await page.getByLabel('Sku or order id').fill(value);
    await page.keyboard.press('Enter');
  }

  async function cells(row: string): Promise<string[]> {
    const texts = await page.locator(`tr[data-batch="${row}"] td.num`).allTextContents();
    return texts.map((text) => text.trim());
  }

  it('sends a visitor without a session to sign in, and lets the token in', async () => {
    await page.goto(`${base}/console`);
    expect(new URL(page.url()).pathname).to.equal('/console/sign_in');
    await screenshot('sign-in');

    await page.getByLabel('Admin token').fill(ADMIN_TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();

    await page.waitForURL(`${base}/console`);
    expect(await page.locator('h1').textContent()).to.equal('Overview');
  });

  it('finds a sku with the search box and shows its batches, warehouse first', async () => {
    await search(sku);

    await page.waitForURL(`${base}/console/products/${sku}`);
    const order = await page
      .locator('tr[data-batch]')
      .evaluateAll((rows) => rows.map((row) => row.getAttribute('data-batch')));
    expect(order).to.deep.equal([warehouse, december, christmas]);
    // purchased, allocated, available: 5 from the warehouse, 18 did not fit there
    expect(await cells(warehouse)).to.deep.equal(['20', '5', '15']);
    expect(await cells(december)).to.deep.equal(['30', '18', '12']);
    expect(await cells(christmas)).to.deep.equal(['50', '0', '50']);
    await screenshot('product');
    await page.setViewportSize({ width: 390, height: 844 });
    await screenshot('product-phone');
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it('opens an order and links each line to the batch that holds it', async () => {
    await search(orderid);

    await page.waitForURL(`${base}/console/orders/${orderid}`);
    const lines = await page
      .locator('tr[data-sku]')
      .evaluateAll((rows) =>
        rows.map((row) => [
          row.getAttribute('data-sku'),
          row.querySelectorAll('td')[1].textContent?.trim(),
        ]),
      );
    expect(lines).to.have.deep.members([
      [sku, warehouse],
      [othersku, lamps],
    ]);
    await screenshot('order');
    await page.getByRole('link', { name: warehouse }).click();
    await page.waitForURL(`${base}/console/products/${sku}#batch-${warehouse}`);
  });

  it('shows the outbox backlog', async () => {
    await page.getByRole('link', { name: 'Outbox', exact: true }).click();

    await page.waitForURL(`${base}/console/outbox`);
    expect(await page.locator('[data-field="backlog"]').textContent()).to.match(/^\d+$/);
    await screenshot('outbox');
  });

  it('pauses a delivery handler from the deliveries page, and resumes it', async () => {
    await page.getByRole('link', { name: 'Deliveries', exact: true }).click();
    await page.waitForURL(`${base}/console/deliveries`);
    const email = page.locator('tr[data-handler="email"]');

    await email.getByRole('button', { name: 'Pause' }).click();
    await page.waitForURL(`${base}/console/deliveries?done=paused`);
    const whilePaused = (await email.locator('[data-field="state"]').textContent())?.trim();
    await screenshot('deliveries');
    await email.getByRole('button', { name: 'Resume' }).click();
    await page.waitForURL(`${base}/console/deliveries?done=resumed`);

    expect(whilePaused).to.equal('paused');
    expect((await email.locator('[data-field="state"]').textContent())?.trim()).to.equal('running');
  });

  it('shows a dead letter whole, replays it, and marks it replayed', async () => {
    const publisher = new Redis(redisUrl());
    try {
      // A quantity change for a batch that does not exist yet: set aside as a dead letter.
      const message = { batchref: lateRef, qty: 25, message_id: `console-${lateRef}` };
      await publisher.publish('change_batch_quantity', JSON.stringify(message));
    } finally {
      publisher.disconnect();
    }
    const letter = await eventually(async () => {
      const found = (await t.deadLetters.list(100)).find((l) => l.payload.includes(lateRef));
      expect(found).to.not.equal(undefined);
      return found!;
    });
    await request(t.app.callback())
      .post('/add_batch')
      .send({ ref: lateRef, sku, qty: 40, eta: '2027-01-15' })
      .expect(201);

    await page.getByRole('link', { name: 'Dead letters' }).click();
    await screenshot('dead-letters');
    await page.getByRole('link', { name: letter.id, exact: true }).click();
    await page.waitForURL(`${base}/console/dead_letters/${letter.id}`);
    expect(await page.locator('pre').nth(1).textContent()).to.contain(`"batchref": "${lateRef}"`);
    await page.getByRole('button', { name: 'Replay' }).click();

    await page.waitForURL(`${base}/console/dead_letters/${letter.id}?done=replayed`);
    expect(await page.locator('[data-field="status"]').textContent()).to.contain('replayed');
    await screenshot('dead-letter');
    await eventually(async () => {
      await page.goto(`${base}/console/products/${sku}`);
      expect(await cells(lateRef)).to.deep.equal(['25', '0', '25']);
    });
  });

  it('pages and filters dead letters, replays and discards a group, and audits it', async () => {
    const [source, tag] = [`console-${randomSku()}`, randomSku('boom')];
    for (let i = 0; i <= 100; i++) {
      await t.deadLetters.add(source, '{}', `Boom-${tag} at step ${i}`);
    }

    await page.getByRole('link', { name: 'Dead letters' }).click();
    await page.getByLabel('Reason starts with').fill(`Boom-${tag}`);
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/reason=/);
    expect(await page.locator('tr[data-id]').count()).to.equal(100);
    await page.getByRole('link', { name: 'Next page' }).click();
    await page.waitForURL(/before=/);
    expect(await page.locator('tr[data-id]').count()).to.equal(1);

    await page.getByRole('link', { name: 'Groups', exact: true }).click();
    const group = page.locator(`tr[data-source="${source}"]`);
    expect(await group.locator('td.num').textContent()).to.equal('101');
    await screenshot('dead-letter-groups');
    await group.getByRole('button', { name: 'Replay this group' }).click();
    await page.waitForURL(/done=replay/);
    // '{}' is no change_batch_quantity: each fails again, as a new dead letter of the group
    expect(await page.locator('.notice').textContent()).to.contain(
      'matched 101, replayed 0, failed 101, superseded 0',
    );
    page.once('dialog', (dialog) => void dialog.accept());
    await group.getByRole('button', { name: 'Discard this group' }).click();
    await page.waitForURL(/done=discard/);
    expect(await page.locator('.notice').textContent()).to.contain('matched 101, discarded 101');
    expect(await group.count()).to.equal(0);

    await page.getByRole('link', { name: 'Audit', exact: true }).click();
    const rows = page.locator('tbody tr');
    const firstTwo = [await rows.nth(0).textContent(), await rows.nth(1).textContent()];
    expect(firstTwo[0]).to.contain('console').and.contain('bulk_discard').and.contain(source);
    expect(firstTwo[1]).to.contain('console').and.contain('bulk_replay').and.contain(source);
    await screenshot('audit');
  });

  it('refuses a form that another site posts to the console', async () => {
    const letter = (await t.deadLetters.list(1))[0];
    const forger = await startForger(`${base}/console/dead_letters/${letter.id}/discard`);
    try {
      const refused = page.waitForResponse((r) => r.url().endsWith('/discard'));
      await page.goto(forger.url);

      expect((await refused).status()).to.equal(403);
      const still = (await t.deadLetters.list(100)).map((l) => l.id);
      expect(still).to.include(letter.id);
    } finally {
      forger.close();
    }
  });

  it('shows times in the viewer’s own zone', async () => {
    await page.goto(`${base}/console/dead_letters`);

    const time = page.locator('td time').first();
    const [text, iso] = [await time.textContent(), await time.getAttribute('datetime')];
    const expected = await page.evaluate(
      (at) =>
        new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' }).format(
          new Date(at),
        ),
      iso!,
    );
    expect(text).to.equal(expected);
  });

  it('signs out: the next page asks to sign in again', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();

    await page.waitForURL(`${base}/console/sign_in`);
    await page.goto(`${base}/console/outbox`);
    expect(new URL(page.url()).pathname).to.equal('/console/sign_in');
  });
});

/**
 * Another site (localhost is not 127.0.0.1 to a browser) whose page posts a form to the
 * console as soon as it loads: a cross-site request forgery.
 */
async function startForger(target: string): Promise<{ url: string; close(): void }> {
  const server = http.createServer((_req, res) => {
    res.setHeader('Content-Type', 'text/html');
    res.end(`<form id="f" method="post" action="${target}"></form>
      <script>document.getElementById('f').submit()</script>`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://localhost:${port}/`, close: () => server.close() };
}
