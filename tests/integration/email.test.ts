import { expect } from 'chai';
import { EmailNotifications } from '../../src/allocation/adapters/smtp/notifications';
import { bootstrap } from '../../src/allocation/bootstrap';
import { Allocate, CreateBatch } from '../../src/allocation/domain/commands';
import { PermanentDeliveryError } from '../../src/allocation/service_layer/errors';
import { testDb } from '../support/db';
import { eventually } from '../support/eventually';
import { randomBatchref, randomOrderid, randomSku } from '../support/random_refs';
import { startSmtpServer, type Received } from '../support/smtp_server';
import { recordingPublisher, silentLogger } from '../unit/fakes';

describe('email', () => {
  it('sends the out-of-stock notification through a real SMTP server', async () => {
    const smtp = await startSmtpServer();
    const email = new EmailNotifications({ host: '127.0.0.1', port: smtp.port });
    const db = await testDb();
    const { bus, relay, close } = bootstrap({
      db,
      notifications: email,
      publish: recordingPublisher(),
      logger: silentLogger,
    });
    const sku = randomSku();
    try {
      await bus.handle(new CreateBatch(randomBatchref(), sku, 1, null));

      await bus.handle(new Allocate(randomOrderid(), sku, 2));

      const mail = await eventually(async () => {
        await relay.deliverPending();
        const found = smtp.received.find((m) => m.data.includes(`Out of stock for ${sku}`));
        expect(found).to.not.equal(undefined);
        return found as Received;
      });
      expect(mail.to).to.deep.equal(['stock@example.com']);
      expect(mail.data).to.match(/^Subject: allocation service notification$/m);
    } finally {
      await close();
      email.close();
      await smtp.close();
    }
  });

  it('upgrades to TLS with STARTTLS when the server offers it', async () => {
    const smtp = await startSmtpServer({ starttls: true });
    const email = new EmailNotifications({ host: '127.0.0.1', port: smtp.port });
    try {
      await email.send('stock@example.com', 'Out of stock for TLS');

      expect(smtp.received).to.have.length(1);
      expect(smtp.received[0].secure).to.equal(true);
    } finally {
      email.close();
      await smtp.close();
    }
  });

  it('fails permanently when the server refuses the recipient with a 5xx', async () => {
    const smtp = await startSmtpServer();
    smtp.rejecting = true;
    const email = new EmailNotifications({ host: '127.0.0.1', port: smtp.port });
    try {
      const error = await email.send('stock@example.com', 'x').then(
        () => undefined,
        (e: unknown) => e,
      );

      expect(error).to.be.instanceOf(PermanentDeliveryError);
      expect((error as Error).message).to.contain('550');
    } finally {
      email.close();
      await smtp.close();
    }
  });
});
