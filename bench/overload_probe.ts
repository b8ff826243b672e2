// A client of its own during the overload scenario: one process, one keep-alive connection, one
// allocation at a time (retrying at once when refused, as the load does). At 2,000 connections
// the load generator's own event loop falls behind and counts the answers it reads late as slow,
// so its percentiles describe the load generator as much as the service; this process is idle
// but for its one request, so the latency it sees is the service's and the network's.
// Run as a child of the bench (`fork`); it reports its samples over IPC.
import { fork } from 'node:child_process';
import http from 'node:http';
import type { Origin } from './load';

export interface ProbeResult {
  /** Latency in ms of each 202 the probe got, and how many times it was refused first. */
  admittedMs: number[];
  refused: number;
}

interface ProbeOrder {
  origin: Origin;
  skus: string[];
  orderPrefix: string;
}

/**
 * Starts the probe before the load, so its connection is open before 2,000 others queue up;
 * `measureFromNow()` forgets what it saw so far, `stop()` ends it and returns what it saw.
 */
export function startProbe(order: ProbeOrder): {
  measureFromNow(): void;
  stop(): Promise<ProbeResult>;
} {
  const child = fork(__filename, ['probe'], { stdio: 'inherit' });
  child.send(order);
  return {
    measureFromNow: () => child.send('measure'),
    stop: () =>
      new Promise((resolve, reject) => {
        child.once('message', (result) => resolve(result as ProbeResult));
        child.once('error', reject);
        child.send('stop');
      }),
  };
}

function allocate(agent: http.Agent, order: ProbeOrder, n: number): Promise<number> {
  const sku = order.skus[n % order.skus.length];
  const body = `{"orderid":"${order.orderPrefix}-${n}","sku":"${sku}","qty":1}`;
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        ...order.origin,
        method: 'POST',
        path: '/allocate',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': body.length },
      },
      (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
      },
    );
    request.setTimeout(60_000, () => request.destroy(new Error('no answer in 60 s')));
    request.on('error', reject);
    request.end(body);
  });
}

async function probe(order: ProbeOrder): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  let result: ProbeResult = { admittedMs: [], refused: 0 };
  let stopping = false;
  process.on('message', (message) => {
    if (message === 'measure') result = { admittedMs: [], refused: 0 };
    if (message === 'stop') stopping = true;
  });
  for (let n = 0; !stopping; n++) {
    const counted = result; // a request sent before 'measure' is not counted
    const started = performance.now();
    const status = await allocate(agent, order, n).catch(() => 0);
    if (counted !== result) continue;
    if (status === 202) counted.admittedMs.push(performance.now() - started);
    else if (status === 503) counted.refused++;
  }
  agent.destroy();
  process.send?.(result, () => process.exit(0));
}

if (require.main === module && process.argv[2] === 'probe') {
  process.once('message', (order) => void probe(order as ProbeOrder));
}
