// Closed-loop HTTP load with autocannon: a fixed number of keep-alive connections, one request
// in flight on each, an unmeasured warm-up, then the measured run. Latencies come from its
// `response` event (hrtime, fractional ms): its own histogram holds whole milliseconds, too
// coarse for sub-millisecond requests. The runs are short, so every sample is kept.
//
// autocannon opens the measured run's connections anew (the warm-up has its own), and times a
// connection's first request from before it connects. At 16 connections that is nothing; at
// 2,000 against a busy server it is most of the tail: Node's libuv (1.45 on) accepts one
// connection per poll of the listening socket, and a poll round that serves 2,000 busy sockets
// takes tens of ms, so new connections queue in the kernel for seconds (bench 2026-12-07:
// 1,200-1,800 waiting in the service's accept queue through the whole overload run, about 40
// accepted per second; each slow answer was the first of its connection). So each connection's
// first answer is also kept apart.
import autocannon from 'autocannon';

export type Origin = { host: string; port: number };

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
  /** Called once per request (a unique body each time), or one fixed request. */
  next: (() => RequestSpec) | RequestSpec;
  /** Every answer, warm-up included (header names as the server sent them). */
  onResponse?: (spec: RequestSpec, status: number, body: string, headers: object) => void;
  /** Called as the measured run starts and as it ends (to read CPU counters, say). */
  onWindow?: { start(): void; end(): void };
  /** Seconds before a request counts as unanswered (default 10). */
  timeoutSeconds?: number;
}

/** Nearest-rank percentiles over every sample. */
export function summarize(values: ArrayLike<number>) {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  const at = (p: number) =>
    n === 0 ? NaN : sorted[Math.min(n, Math.max(1, Math.ceil(p * n))) - 1];
  return { count: n, p50: at(0.5), p99: at(0.99), max: n > 0 ? sorted[n - 1] : NaN };
}

// Without a callback autocannon returns its emitter made thenable, and it takes a `warmup`
// run: @types/autocannon (7.x) knows neither.
type Running = autocannon.Instance & PromiseLike<autocannon.Result>;
type Context = { spec?: RequestSpec };

type Summary = ReturnType<typeof summarize>;
/** autocannon's answers by connection; pgbench reports none. */
export interface ByConnection {
  /** The 2xx answers but each connection's first: what a client with a connection sees. */
  latency2xxAfterFirst: Summary;
  /** Each connection's first answer, timed from before it connected. */
  firstAnswer: Summary;
}
export type LoadResult = Omit<Awaited<ReturnType<typeof runLoad>>, 'byConnection'> & {
  byConnection?: ByConnection;
};

export async function runLoad(options: LoadOptions) {
  const all: number[] = [];
  const ok: number[] = [];
  const okOnOpen: number[] = [];
  const firsts: number[] = [];
  const answered = new WeakSet<object>();
  const statuses: Record<string, number> = {};
  const { concurrency, amount, warmupMs } = options;
  const instance = autocannon({
    url: `http://${options.origin.host}:${options.origin.port}`,
    connections: concurrency,
    headers: { 'content-type': 'application/json' },
    requests: [toRequest(options)],
    timeout: options.timeoutSeconds ?? 10,
    // it ends a run on its next sample tick (default every second): sample often to end on time
    sampleInt: 50,
    ...(amount !== undefined ? { amount } : { duration: options.durationMs / 1000 }),
    ...(amount === undefined && warmupMs > 0
      ? { warmup: { connections: concurrency, duration: warmupMs / 1000 } }
      : {}),
  }) as unknown as Running;
  let startedAt = performance.now();
  instance.on('start', () => {
    startedAt = performance.now();
    options.onWindow?.start();
  });
  instance.on('response', (client, status, _bytes, responseTime) => {
    all.push(responseTime);
    const first = !answered.has(client);
    if (first) {
      answered.add(client);
      firsts.push(responseTime);
    }
    if (status >= 200 && status <= 299) ok.push(responseTime);
    if (status >= 200 && status <= 299 && !first) okOnOpen.push(responseTime);
    statuses[status] = (statuses[status] ?? 0) + 1;
  });
  const result = await instance;
  const seconds = (performance.now() - startedAt) / 1000;
  options.onWindow?.end();
  return {
    concurrency,
    /** The measured run: its length, the requests answered, their latencies in ms. */
    seconds,
    requests: all.length,
    throughput: all.length / seconds,
    latency: summarize(all),
    /** The 2xx answers only (what admission let through). */
    latency2xx: summarize(ok),
    byConnection: { latency2xxAfterFirst: summarize(okOnOpen), firstAnswer: summarize(firsts) },
    statuses,
    non2xx: all.length - ok.length,
    /** Requests that got no HTTP answer (refused, reset, timed out). */
    errors: result.errors,
  };
}

/** Built anew for each request when `next` is a function; once when it is a fixed request. */
function toRequest({ next, onResponse }: LoadOptions): autocannon.Request {
  if (typeof next !== 'function' && !onResponse) return { ...next };
  const nextSpec = typeof next === 'function' ? next : () => next;
  return {
    setupRequest: (req, context: Context) => {
      const spec = (context.spec = nextSpec());
      return { ...req, method: spec.method, path: spec.path, body: spec.body };
    },
    onResponse: (status: number, body: string, context: Context, headers?: object) => {
      if (context.spec) onResponse?.(context.spec, status, body, headers ?? {});
    },
  };
}
