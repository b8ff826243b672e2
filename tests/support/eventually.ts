// Waits for an eventually-consistent effect (read model, outbox relay, Redis) with a bounded
// deadline: the assertion is on the outcome, the deadline only stops a hung test.
import { setTimeout as sleep } from 'node:timers/promises';

export async function eventually<T>(check: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(50);
    }
  }
}
