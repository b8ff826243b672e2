// A real SMTP server, in-process, that keeps what it receives; tests can make it refuse
// recipients (a permanent 550) and offer STARTTLS (with smtp-server's self-signed certificate).
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface Received {
  from: string;
  to: string[];
  data: string;
  /** Whether the session was upgraded with STARTTLS before the message was sent. */
  secure: boolean;
  /** When the server had the whole message (Date.now()). */
  at: number;
}

export interface TestSmtpServer {
  port: number;
  received: Received[];
  /** While true, every recipient is refused with 550. */
  rejecting: boolean;
  close(): Promise<void>;
}

export async function startSmtpServer(
  options: { starttls?: boolean; port?: number } = {},
): Promise<TestSmtpServer> {
  const received: Received[] = [];
  const state: TestSmtpServer = {
    port: 0,
    received,
    rejecting: false,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: options.starttls ? [] : ['STARTTLS'],
    logger: false,
    onRcptTo(_address, _session, callback) {
      if (!state.rejecting) return callback();
      const refused = new Error('mailbox unavailable') as Error & { responseCode: number };
      refused.responseCode = 550;
      return callback(refused);
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          data: Buffer.concat(chunks).toString('utf8'),
          secure: session.secure,
          at: Date.now(),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  state.port = (server.server.address() as AddressInfo).port;
  return state;
}
