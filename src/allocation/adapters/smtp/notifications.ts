import nodemailer, { type Transporter } from 'nodemailer';
import { smtpDeliveryError } from './smtp_errors';
import type { Logger, Notifications } from '../../service_layer/ports';

export const NOTIFICATION_SUBJECT = 'allocation service notification';

export class EmailNotifications implements Notifications {
  private readonly transport: Transporter;

  constructor(
    smtp: { host: string; port: number },
    private readonly from = 'allocations@example.com',
  ) {
    // Opportunistic STARTTLS: encrypted whenever the server offers it, plain otherwise (as an
    // MTA's "may" level). The certificate is not verified, as opportunistic TLS does: a relay
    // with a self-signed certificate still gets an encrypted session, not a failed delivery.
    this.transport = nodemailer.createTransport({
      host: smtp.host,
      port: smtp.port,
      secure: false,
      ignoreTLS: false,
      requireTLS: false,
      tls: { rejectUnauthorized: false },
      connectionTimeout: 5_000,
      greetingTimeout: 5_000,
      socketTimeout: 10_000,
    });
  }

  /** An SMTP 5xx (say, a rejected recipient) fails for good; an outage opens the circuit. */
  async send(destination: string, message: string): Promise<void> {
    try {
      await this.transport.sendMail({
        from: this.from,
        to: destination,
        subject: NOTIFICATION_SUBJECT,
        text: message,
      });
    } catch (error) {
      throw smtpDeliveryError(error);
    }
  }

  close(): void {
    this.transport.close();
  }
}

/** Used when no SMTP server is configured: the notification is logged instead of mailed. */
export class LogNotifications implements Notifications {
  constructor(private readonly log: Logger) {}

  async send(destination: string, message: string): Promise<void> {
    this.log.info(
      { to: destination, subject: NOTIFICATION_SUBJECT, body: message },
      'notification',
    );
    return Promise.resolve();
  }
}
