import { expect } from 'chai';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { EmailNotifications } from '../../src/allocation/adapters/notifications';
import { bootstrap } from '../../src/allocation/bootstrap';
import { Allocate, CreateBatch } from '../../src/allocation/domain/commands';
import { testDb } from '../support/db';
import { eventually } from '../support/eventually';
import { randomBatchref, randomOrderid, randomSku } from '../support/random_refs';
import { recordingPublisher, silentLogger } from '../unit/fakes';

interface Received {
  from: string;
  to: string[];
  data: string;
}

/** A real SMTP server, in-process, that keeps what it receives. */
async function startSmtpServer(): Promise<{
  port: number;
  received: Received[];
  close(): Promise<void>;
}> {
  const received: Received[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          data: Buffer.concat(chunks).toString('utf8'),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  return { port, received, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

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
});
