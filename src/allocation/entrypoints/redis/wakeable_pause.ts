import { backoffMs } from '../../service_layer/backoff';

/** A consumer loop's pause that ends early when woken: by a new message, or by a stop. */
export class WakeablePause {
  private wakeUp: (() => void) | undefined;

  /** Until woken (attempt 0), or a backoff after the attempt-th failure unless woken first. */
  async pause(attempt: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = attempt > 0 ? setTimeout(resolve, backoffMs(attempt, 200, 5_000)) : undefined;
      this.wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wakeUp = undefined;
  }

  /** This long, unless woken first. */
  async pauseFor(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wakeUp = undefined;
  }

  /** Ends the pause in progress; does nothing when there is none. */
  wake(): void {
    this.wakeUp?.();
  }
}
