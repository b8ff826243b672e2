// Closed-loop HTTP load with autocannon: a fixed number of keep-alive connections, one request
// in flight on each, a warm-up run whose requests are not measured, then the measured run.
// autocannon builds every request through `setupRequest`, so each one carries a unique body.
// Its own latency histogram holds whole milliseconds; we keep every sample from its `response`
// event instead (hrtime, fractional ms), as sub-millisecond requests need.
import autocannon from 'autocannon';
import { type LatencySummary, Samples, summarize } from './stats';

export interface Origin {
  host: string;
  port: number;
}

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
  /** A fixed number of requests instead of a duration (no warm-up then). */
  amount?: number;
  /** The next request, called once per request (so bodies can be unique), or a fixed one. */
  next: (() => RequestSpec) | RequestSpec;
  /** Every answered request, warm-up included; `doneAt` is performance.now() ms. */
  onResponse?: (
    spec: RequestSpec,
    status: number,
    body: string,
    doneAt: number,
    /** Header names in lower case. */
    headers: Record<string, string>,
  ) => void;
  /** Called as the measured run starts and as it ends (e.g. to read CPU counters). */
  onWindow?: { start(): void; end(): void };
  /** Seconds before a request counts as unanswered (default 10). */
  timeoutSeconds?: number;
}

export interface LoadResult {
  concurrency: number;
  /** Length of the measured run, in seconds. */
  seconds: number;
  /** Requests answered in the measured run. */
  requests: number;
  throughput: number;
  /** Milliseconds, every answer of the measured run. */
  latency: LatencySummary;
  /** Milliseconds, the 2xx answers only (what admission let through). */
  latency2xx: LatencySummary;
  /** Every latency of the run (ms), unsorted, for combining runs. */
  samples: Float64Array;
  samples2xx: Float64Array;
  /** Status counts over the measured run. */
  statuses: Record<string, number>;
  non2xx: number;
  /** Requests that got no HTTP answer (connection refused, reset, timed out). */
  errors: number;
  firstErrors: string[];
  /** The measured run on the machine's monotonic clock (microseconds, as V8 profiles use). */
  windows: { startUs: number; endUs: number }[];
}

interface Context {
  spec?: RequestSpec;
}

// Without a callback, autocannon returns its event emitter made thenable, and it takes a
// `warmup` run; @types/autocannon (7.x) knows neither.
type Running = autocannon.Instance & PromiseLike<autocannon.Result>;
type WithWarmup = autocannon.Options & { warmup?: { connections: number; duration: number } };

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const all = new Samples();
  const ok = new Samples();
  const statuses = new Map<number, number>();
  const firstErrors: string[] = [];
  const config: WithWarmup = {
    url: `http://${options.origin.host}:${options.origin.port}`,
    connections: options.concurrency,
    headers: { 'content-type': 'application/json' },
    requests: [toRequest(options)],
    timeout: options.timeoutSeconds ?? 10,
    // It ends a run on its next sample tick (default every second): sample often to end on time.
    sampleInt: 50,
    ...(options.amount !== undefined
      ? { amount: options.amount }
      : {
          duration: options.durationMs / 1000,
          ...(options.warmupMs > 0
            ? { warmup: { connections: options.concurrency, duration: options.warmupMs / 1000 } }
            : {}),
        }),
  };
  const instance = autocannon(config) as unknown as Running;
  let startedAt = performance.now();
  instance.on('start', () => {
    startedAt = performance.now();
    options.onWindow?.start();
  });
  instance.on('response', (_client, status, _bytes, responseTime) => {
    all.push(responseTime);
    if (status >= 200 && status <= 299) ok.push(responseTime);
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
  });
  instance.on('reqError', (error: Error) => {
    if (firstErrors.length < 5) firstErrors.push(error.message);
  });
  const result = await instance;
  const endedAt = performance.now();
  options.onWindow?.end();
  const window = (endedAt - startedAt) / 1000;
  const nowUs = Number(process.hrtime.bigint() / 1000n);
  let non2xx = 0;
  for (const [status, count] of statuses) if (status < 200 || status > 299) non2xx += count;
  return {
    concurrency: options.concurrency,
    seconds: window,
    requests: all.length,
    throughput: all.length / window,
    latency: summarize(all.values()),
    latency2xx: summarize(ok.values()),
    samples: all.values(),
    samples2xx: ok.values(),
    statuses: Object.fromEntries([...statuses].map(([status, count]) => [String(status), count])),
    non2xx,
    errors: result.errors,
    firstErrors,
    windows: [{ startUs: nowUs - window * 1e6, endUs: nowUs }],
  };
}

/**
 * autocannon's request: built anew for each request when `next` is a function (a unique body
 * each time), built once when it is a fixed request (cheaper for the load generator); the body
 * is read only when someone looks at it.
 */
function toRequest(options: LoadOptions): autocannon.Request {
  const { next, onResponse } = options;
  if (typeof next !== 'function' && !onResponse) return { ...next };
  const nextSpec = typeof next === 'function' ? next : () => next;
  return {
    setupRequest: (req, context: Context) => {
      const spec = nextSpec();
      context.spec = spec;
      return { ...req, method: spec.method, path: spec.path, body: spec.body };
    },
    ...(onResponse && {
      onResponse: (status: number, body: string, context: Context, headers?: object) => {
        if (!context.spec) return;
        const lower = Object.fromEntries(
          Object.entries(headers ?? {}).map(([name, value]) => [name.toLowerCase(), String(value)]),
        );
        onResponse(context.spec, status, body, performance.now(), lower);
      },
    }),
  };
}

/** Two loads of the same kind as one: their windows added up, their latencies pooled. */
export function combineLoads(a: LoadResult, b: LoadResult): LoadResult {
  const join = (x: Float64Array, y: Float64Array) => {
    const joined = new Float64Array(x.length + y.length);
    joined.set(x);
    joined.set(y, x.length);
    return joined;
  };
  const samples = join(a.samples, b.samples);
  const samples2xx = join(a.samples2xx, b.samples2xx);
  const statuses = { ...a.statuses };
  for (const [status, count] of Object.entries(b.statuses)) {
    statuses[status] = (statuses[status] ?? 0) + count;
  }
  const seconds = a.seconds + b.seconds;
  return {
    concurrency: a.concurrency,
    seconds,
    requests: a.requests + b.requests,
    throughput: (a.requests + b.requests) / seconds,
    latency: summarize(samples),
    latency2xx: summarize(samples2xx),
    samples,
    samples2xx,
    statuses,
    non2xx: a.non2xx + b.non2xx,
    errors: a.errors + b.errors,
    firstErrors: [...a.firstErrors, ...b.firstErrors].slice(0, 5),
    windows: [...a.windows, ...b.windows],
  };
}
