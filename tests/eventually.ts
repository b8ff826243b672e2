// Waits for an eventually-consistent effect (read model, outbox relay, Redis) with a bounded
// deadline: the assertion is on the outcome, the deadline only stops a hung test.
export async function eventually<T>(check: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
