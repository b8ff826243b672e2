// At most EMAIL_MAX_PER_SECOND notifications a second (SPEC section 5): a stock-out storm over
// many skus sends them all, paced, none dropped. Sends go one at a time, each starting at least
// 1/rate after the previous one finished, so a mail server sees them at least that far apart
// whatever the network does. Only the outbox relay's leader sends (its lease), so one process's
// pace is the service's.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Notifications } from '../../service_layer/ports';

/** Too many notifications already wait their turn: the relay delivers this one later. */
export class RateLimited extends Error {
  name = 'RateLimited';
}

// A send waits its turn for at most about this long; beyond it, it fails at once and the relay
// retries it after its backoff, so a drain that also carries line_allocated is not held up for
// long by a queue of emails.
const MAX_WAIT_MS = 2_000;

export class PacedNotifications implements Notifications {
  private readonly intervalMs: number;
  private readonly maxWaiting: number;
  private tail: Promise<unknown> = Promise.resolve();
  private waiting = 0;
  private lastDoneAt = 0;

  constructor(
    private readonly inner: Notifications,
    private readonly perSecond: number,
  ) {
    this.intervalMs = 1_000 / perSecond;
    this.maxWaiting = Math.max(1, Math.ceil(MAX_WAIT_MS / this.intervalMs));
  }

  async send(destination: string, message: string): Promise<void> {
    if (this.waiting >= this.maxWaiting) {
      throw new RateLimited(
        `EMAIL_MAX_PER_SECOND (${this.perSecond}) reached: ${this.waiting} notifications wait; sent later`,
      );
    }
    this.waiting += 1;
    const turn = this.tail.then(async () => {
      const wait = this.lastDoneAt + this.intervalMs - Date.now();
      if (wait > 0) await sleep(wait);
      try {
        await this.inner.send(destination, message);
      } finally {
        this.lastDoneAt = Date.now();
      }
    });
    this.tail = turn.catch(() => undefined);
    try {
      await turn;
    } finally {
      this.waiting -= 1;
    }
  }
}
