// HTTP calls to a service process. Every request has a deadline, so a hung service fails the
// test instead of blocking it; loads are bounded in count, and assertions are on counts.
import { expect } from 'chai';

/** Long enough for a slow answer on a noisy machine, short enough that a hang fails the test. */
export const ANSWER_TIMEOUT_MS = 15_000;

export interface Request {
  method: 'POST' | 'GET';
  url: string;
  body?: unknown;
}

export interface Outcome {
  status: number; // 0 when the request got no HTTP answer (refused, reset or timed out)
  body: unknown;
}

/** One JSON request; never throws. */
export async function send(request: Request): Promise<Outcome> {
  try {
    const response = await fetch(request.url, {
      method: request.method,
      headers: request.body === undefined ? {} : { 'content-type': 'application/json' },
      body: request.body === undefined ? undefined : JSON.stringify(request.body),
      signal: AbortSignal.timeout(ANSWER_TIMEOUT_MS),
    });
    const text = await response.text();
    return { status: response.status, body: text ? (JSON.parse(text) as unknown) : null };
  } catch {
    return { status: 0, body: null };
  }
}

/** Sends every request with at most `concurrency` in flight; never throws. */
export async function sendAll(
  requests: Request[],
  concurrency: number,
  onEach?: (done: number) => void,
): Promise<Outcome[]> {
  const outcomes: Outcome[] = new Array<Outcome>(requests.length);
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < requests.length) {
      const i = next++;
      outcomes[i] = await send(requests[i]);
      onEach?.(++done);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return outcomes;
}

export function countBy<T>(items: T[], key: (item: T) => string | number): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[String(key(item))] = (counts[String(key(item))] ?? 0) + 1;
  return counts;
}

/** One allocation request per orderid, one unit each. */
export function allocateRequests(url: string, sku: string, orderids: string[]): Request[] {
  return orderids.map((orderid) => ({
    method: 'POST',
    url: `${url}/allocate`,
    body: { orderid, sku, qty: 1 },
  }));
}

/** Adds a warehouse batch through the API of a service process, expecting 201. */
export async function addBatch(url: string, ref: string, sku: string, qty: number): Promise<void> {
  const outcome = await send({
    method: 'POST',
    url: `${url}/add_batch`,
    body: { ref, sku, qty, eta: null },
  });
  expect(outcome.status, JSON.stringify(outcome.body)).to.equal(201);
}
