// Closed-loop HTTP load: a fixed number of clients, each on its own keep-alive connection with
// one request in flight; a warm-up whose requests are not measured, then a fixed window. A
// request counts in the window when it completes inside it.
import { type ClientKind, type Connection, connect, type Origin } from './http_client';
import { type LatencySummary, Samples, summarize } from './stats';

export interface RequestSpec {
  method: 'GET' | 'POST';
  path: string;
  body?: string;
  /** Handed back to onResponse, e.g. the order id. */
  tag?: string;
}

export interface LoadOptions {
  origin: Origin;
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  /** Stop issuing after this many requests in all (warm-up included); the window then ends early. */
  maxRequests?: number;
  /** The request for sequence number `seq` (unique across the run, starting at 0). */
  next: (seq: number) => RequestSpec;
  /** Called for every answered request, warm-up included; times are performance.now() ms. */
  onResponse?: (spec: RequestSpec, status: number, body: Buffer, doneAt: number) => void;
  client?: ClientKind;
  /** Called as the measured window opens and as it closes (e.g. to read CPU counters). */
  onWindow?: { start(): void; end(): void };
}

export interface LoadResult {
  concurrency: number;
  /** Length of the measured window, in seconds. */
  seconds: number;
  /** Requests completed in the measured window. */
  requests: number;
  throughput: number;
  /** Milliseconds, over the measured window. */
  latency: LatencySummary;
  /** Every latency of the window (ms), unsorted, for combining runs. */
  samples: Float64Array;
  /** Status counts over the whole run, warm-up included. */
  statuses: Record<string, number>;
  non2xx: number;
  /** Requests that got no HTTP answer (connection refused, reset, closed). */
  errors: number;
  firstErrors: string[];
  /** The measured window on the machine's monotonic clock (microseconds, as V8 profiles use). */
  windows: { startUs: number; endUs: number }[];
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const kind = options.client ?? 'raw';
  const connections = await Promise.all(
    Array.from({ length: options.concurrency }, () => connect(kind, options.origin)),
  );
  const start = performance.now();
  const monotonicStartUs = Number(process.hrtime.bigint() / 1000n);
  const windowStart = start + options.warmupMs;
  const windowEnd = windowStart + options.durationMs;
  const latencies = new Samples();
  const statuses = new Map<number, number>();
  const firstErrors: string[] = [];
  let errors = 0;
  let seq = 0;
  let lastDone = windowStart;

  const timers = options.onWindow
    ? [
        setTimeout(() => options.onWindow?.start(), options.warmupMs),
        setTimeout(() => options.onWindow?.end(), options.warmupMs + options.durationMs),
      ]
    : [];

  const client = async (index: number): Promise<void> => {
    let connection: Connection = connections[index];
    while (performance.now() < windowEnd) {
      if (options.maxRequests !== undefined && seq >= options.maxRequests) break;
      const spec = options.next(seq++);
      const sentAt = performance.now();
      try {
        const response = await connection.request(spec.method, spec.path, spec.body);
        const doneAt = performance.now();
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        if (doneAt >= windowStart && doneAt <= windowEnd) {
          latencies.push(doneAt - sentAt);
          lastDone = Math.max(lastDone, doneAt);
        }
        options.onResponse?.(spec, response.status, response.body, doneAt);
      } catch (error) {
        errors++;
        if (firstErrors.length < 5) firstErrors.push((error as Error).message);
        connection.close();
        await new Promise((resolve) => setTimeout(resolve, 10));
        connection = await connect(kind, options.origin).catch(() => connection);
        connections[index] = connection;
      }
    }
  };
  await Promise.all(connections.map((_, index) => client(index)));
  timers.forEach(clearTimeout);
  for (const connection of connections) connection.close();

  const countBounded = options.maxRequests !== undefined && seq >= options.maxRequests;
  const seconds = ((countBounded ? lastDone : windowEnd) - windowStart) / 1000;
  let non2xx = 0;
  for (const [status, count] of statuses) if (status < 200 || status > 299) non2xx += count;
  return {
    concurrency: options.concurrency,
    seconds,
    requests: latencies.length,
    throughput: seconds > 0 ? latencies.length / seconds : 0,
    latency: summarize(latencies.values()),
    samples: latencies.values(),
    statuses: Object.fromEntries([...statuses].map(([status, count]) => [String(status), count])),
    non2xx,
    errors,
    firstErrors,
    windows: [
      {
        startUs: monotonicStartUs + (windowStart - start) * 1000,
        endUs: monotonicStartUs + (windowStart - start + seconds * 1000) * 1000,
      },
    ],
  };
}

/** Two loads of the same kind as one: their windows added up, their latencies pooled. */
export function combineLoads(a: LoadResult, b: LoadResult): LoadResult {
  const samples = new Float64Array(a.samples.length + b.samples.length);
  samples.set(a.samples);
  samples.set(b.samples, a.samples.length);
  const statuses = { ...a.statuses };
  for (const [status, count] of Object.entries(b.statuses)) {
    statuses[status] = (statuses[status] ?? 0) + count;
  }
  const seconds = a.seconds + b.seconds;
  return {
    concurrency: a.concurrency,
    seconds,
    requests: a.requests + b.requests,
    throughput: seconds > 0 ? (a.requests + b.requests) / seconds : 0,
    latency: summarize(samples),
    samples,
    statuses,
    non2xx: a.non2xx + b.non2xx,
    errors: a.errors + b.errors,
    firstErrors: [...a.firstErrors, ...b.firstErrors].slice(0, 5),
    windows: [...a.windows, ...b.windows],
  };
}
