// Issue 9: more clients than the service can serve. 2,000 connections allocate at once; with
// admission control (MAX_INFLIGHT) the service answers what it admits in bounded time and
// refuses the rest at once with 503 + Retry-After. At 2,000 connections the load generator's own
// event loop falls behind and counts answers it reads late as slow (2026-11-27: the service
// logged 2,864 allocations in 10 s, p99 under 1 s, while autocannon had read 696, p99 5.3 s).
// So two more views come from a probe, a child process idle but for one keep-alive connection
// opened before the load: the latency one unhurried client sees (one allocation at a time,
// retrying at once when refused), and the service's own histogram of its 202s (GET /metrics,
// read at the start and end of the window over that same connection).
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { type Origin, summarize } from './load';
import { allocation, type BenchContext, measure } from './measure';
import { queryNumber, seedSkus } from './seed';

type ProbeResult = {
  admittedMs: number[];
  refused: number;
  /** Requests that got no answer, and those sent on a new connection (its first excepted). */
  failed: number;
  reconnects: number;
  from: Buckets;
  to: Buckets;
};
/** Cumulative counts of allocation_http_request_duration_seconds by upper bound (seconds). */
type Buckets = [number, number][];

export async function runOverload(ctx: BenchContext, connections: number) {
  const prefix = `${ctx.runId}-ovl`;
  const skus = (await seedSkus(ctx.pool, prefix, 100)).map((s) => s.sku);
  const overflows = listenOverflows();
  let [accepted, withoutRetryAfter] = [0, 0];
  // 'advanced': structured clone, which keeps the +Inf bucket's Infinity
  const child = fork(__filename, ['probe'], { stdio: 'inherit', serialization: 'advanced' });
  child.send({ origin: ctx.origin, skus, prefix });
  const probed = new Promise<ProbeResult>((resolve, reject) => {
    child.once('message', (result) => resolve(result as ProbeResult));
    child.once('error', reject);
  });
  const measurement = await measure(ctx, 'overload', {
    concurrency: connections,
    onWindow: { start: () => child.send('measure'), end: () => child.send('stop') },
    // without admission control queued requests wait long: count them, do not cut them off
    timeoutSeconds: 60,
    next: () => allocation(ctx, skus, 1),
    onResponse: (_spec, status, _body, headers) => {
      if (status === 202) accepted++;
      const retryAfter = Object.keys(headers).some((name) => /^retry-after$/i.test(name));
      if (status === 503 && !retryAfter) withoutRetryAfter++;
    },
  });
  const sql = 'SELECT count(*) FROM order_lines WHERE sku = ANY($1)';
  const [stored, probe] = [await queryNumber(ctx.pool, sql, [skus]), await probed];
  const load = measurement.load;
  const inWindow = (le: number) =>
    (probe.to.find(([b]) => b === le)?.[1] ?? 0) - (probe.from.find(([b]) => b === le)?.[1] ?? 0);
  const admitted = inWindow(Infinity);
  const bound = probe.to.map(([le]) => le).find((le) => inWindow(le) >= 0.99 * admitted);
  const { p50, p99, max } = summarize(probe.admittedMs);
  const admittedPerSecond = (load.statuses['202'] ?? 0) / load.seconds;
  ctx.log(`overload c=${connections}: ${admittedPerSecond.toFixed(0)} admitted/s`);
  return {
    measurement,
    admittedPerSecond,
    /** 503s over all answers in the window; 503s without Retry-After (warm-up included). */
    refusedShare: (load.statuses['503'] ?? 0) / Math.max(1, load.requests),
    refusedWithoutRetryAfter: withoutRetryAfter,
    /** 202s answered (warm-up included) and order lines stored for these skus. */
    accepted,
    stored,
    /** Connections the kernel dropped from a full listen queue (machine-wide, whole run). */
    listenOverflows: listenOverflows() - overflows,
    /** 202s in the service's histogram during the window, and the bucket bound of their p99. */
    service: { admitted, p99BoundSeconds: bound ?? Infinity },
    /** What the probe saw (ms); none admitted: the worst there is. */
    probe: {
      admitted: probe.admittedMs.length,
      refused: probe.refused,
      p50,
      max,
      p99: probe.admittedMs.length > 0 ? p99 : Infinity,
      failed: probe.failed,
      reconnects: probe.reconnects,
    },
  };
}

/** TcpExt ListenOverflows (the client retries after 1 s, then 3 s...: it shows as latency). */
function listenOverflows(): number {
  try {
    const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n');
    const [names, values] = lines.filter((l) => l.startsWith('TcpExt:')).map((l) => l.split(' '));
    return Number(values[names.indexOf('ListenOverflows')]);
  } catch {
    return NaN;
  }
}

type ProbeOrder = { origin: Origin; skus: string[]; prefix: string };

/** One request on the probe's single connection: its status and body. */
function request(agent: http.Agent, origin: Origin, path: string, body?: string) {
  return new Promise<{ status: number; text: string; reused: boolean }>((resolve, reject) => {
    const json = { 'content-type': 'application/json', 'content-length': body?.length };
    const method = body ? 'POST' : 'GET';
    const req = http.request({ ...origin, path, agent, method, headers: body ? json : {} });
    req.on('response', (response) => {
      let text = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      const [status, reused] = [response.statusCode ?? 0, req.reusedSocket];
      response.on('end', () => resolve({ status, text, reused }));
    });
    req.setTimeout(60_000, () => req.destroy(new Error('no answer in 60 s')));
    req.on('error', reject).end(body);
  });
}

async function buckets(agent: http.Agent, origin: Origin): Promise<Buckets> {
  const { text } = await request(agent, origin, '/metrics');
  const series = 'allocation_http_request_duration_seconds_bucket{';
  const labels = 'route="/allocate",status="202"';
  return text
    .split('\n')
    .filter((line) => line.startsWith(series) && line.includes(labels))
    .map((line) => [/le="([^"]+)"/.exec(line)?.[1] ?? '', Number(line.split(' ').pop())] as const)
    .map(([le, n]) => [le === '+Inf' ? Infinity : Number(le), n]);
}

/**
 * The probe: allocations one at a time on one connection, counted when sent after 'measure';
 * the histogram read on another connection at 'measure' and at 'stop'. Both connections are
 * opened before the load (a new one would queue behind 2,000 others) and kept busy (the server
 * drops a keep-alive connection idle for 5 s).
 */
async function probe({ origin, skus, prefix }: ProbeOrder): Promise<void> {
  const [agent, metrics] = [1, 2].map(() => new http.Agent({ keepAlive: true, maxSockets: 1 }));
  const seen = { admittedMs: [] as number[], refused: 0, failed: 0, reconnects: 0 };
  let since = Infinity;
  let from: Promise<Buckets> = Promise.resolve([]);
  let to: Promise<Buckets> | undefined;
  const keepAlive = setInterval(() => void buckets(metrics, origin).catch(() => []), 1_000);
  process.on('message', (message) => {
    if (message === 'measure') [since, from] = [performance.now(), buckets(metrics, origin)];
    if (message === 'stop') to = buckets(metrics, origin);
  });
  await buckets(metrics, origin);
  for (let n = 0; !to; n++) {
    const body = `{"orderid":"${prefix}-probe-${n}","sku":"${skus[n % skus.length]}","qty":1}`;
    const sent = performance.now();
    const answer = await request(agent, origin, '/allocate', body).catch(() => undefined);
    if (sent >= since && answer?.status === 202) seen.admittedMs.push(performance.now() - sent);
    if (sent >= since && answer?.status === 503) seen.refused++;
    if (sent >= since && !answer) seen.failed++;
    if (sent >= since && answer && !answer.reused) seen.reconnects++;
  }
  clearInterval(keepAlive);
  const result: ProbeResult = { ...seen, from: await from, to: (await to) ?? [] };
  process.send?.(result, () => process.exit(0));
}

if (require.main === module && process.argv[2] === 'probe') {
  process.once('message', (order) => void probe(order as ProbeOrder));
}
