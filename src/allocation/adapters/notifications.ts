import nodemailer, { type Transporter } from 'nodemailer';
import type { Logger, Notifications } from '../service_layer/ports';

export const NOTIFICATION_SUBJECT = 'allocation service notification';

export class EmailNotifications implements Notifications {
  private readonly transport: Transporter;

  constructor(
    smtp: { host: string; port: number },
    private readonly from = 'allocations@example.com',
  ) {
    // Plain SMTP as configured; a relay on the same network needs neither TLS nor auth here.
    this.transport = nodemailer.createTransport({
      host: smtp.host,
      port: smtp.port,
      secure: false,
      ignoreTLS: true,
      connectionTimeout: 5_000,
      greetingTimeout: 5_000,
      socketTimeout: 10_000,
    });
  }

  async send(destination: string, message: string): Promise<void> {
    await this.transport.sendMail({
      from: this.from,
      to: destination,
      subject: NOTIFICATION_SUBJECT,
      text: message,
    });
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
