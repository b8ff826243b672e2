import type { Logger } from '../../service_layer/ports';

/** How often a paused consumer asks whether it was resumed. */
export const PAUSED_POLL_MS = 250;

/**
 * Whether an operator paused inbound deliveries (GET /deliveries), as both consumers ask it
 * before each message; the answer is at most a second old (DeliveryControls). A change is said
 * once in the log, with where the messages wait meanwhile.
 */
export class InboundPause {
  private was = false;

  constructor(
    private readonly paused: (() => Promise<boolean>) | undefined,
    private readonly log: Logger,
    private readonly waitingIn: string,
  ) {}

  async now(): Promise<boolean> {
    const paused = (await this.paused?.()) === true;
    if (paused !== this.was) {
      this.was = paused;
      this.log.info(
        {},
        paused ? `inbound paused: messages wait in ${this.waitingIn}` : 'inbound resumed',
      );
    }
    return paused;
  }
}
