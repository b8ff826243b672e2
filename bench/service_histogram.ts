// The service's own latency histogram (GET /metrics) for one route and status, read at the start
// and the end of a measured window. Under overload the load generator shares the 2 cores with the
// service and PostgreSQL, and at 2,000 connections its own event loop falls behind: a response
// it reads late is counted late (2026-11-27: the service logged 2,864 allocations in 10 s, p99
// under 1 s, while autocannon had read 696 of them, p99 5.3 s). The service's histogram times a
// request from its first middleware to its answer, so both are reported.
import http from 'node:http';
import type { Origin } from './load';

const SERIES = 'allocation_http_request_duration_seconds_bucket';

/** Cumulative counts by upper bound in seconds (Infinity for +Inf). */
export type Buckets = Map<number, number>;

/**
 * Reads over one connection opened before the load and kept busy: a new one made as 2,000 load
 * connections open at once waits behind them in the accept queue, and reads too late.
 */
export class HistogramReader {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  private keepAlive?: NodeJS.Timeout;

  constructor(
    private readonly origin: Origin,
    private readonly route: string,
    private readonly status: number,
  ) {}

  async open(): Promise<void> {
    await this.read();
    // the server drops a keep-alive connection idle for 5 s; a warm-up lasts longer
    this.keepAlive = setInterval(() => void this.read().catch(() => undefined), 1_000);
  }

  read(): Promise<Buckets> {
    return new Promise((resolve, reject) => {
      const request = http.get(
        { host: this.origin.host, port: this.origin.port, path: '/metrics', agent: this.agent },
        (response) => {
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (text += chunk));
          response.on('end', () => resolve(this.parse(text)));
          response.on('error', reject);
        },
      );
      request.setTimeout(10_000, () => request.destroy(new Error('GET /metrics timed out')));
      request.on('error', reject);
    });
  }

  close(): void {
    clearInterval(this.keepAlive);
    this.agent.destroy();
  }

  private parse(text: string): Buckets {
    const buckets: Buckets = new Map();
    const labels = `route="${this.route}",status="${this.status}"`;
    for (const line of text.split('\n')) {
      if (!line.startsWith(`${SERIES}{`) || !line.includes(labels)) continue;
      const le = /le="([^"]+)"/.exec(line)?.[1];
      if (le === undefined) continue;
      buckets.set(le === '+Inf' ? Infinity : Number(le), Number(line.split(' ').pop()));
    }
    return buckets;
  }
}

/** Requests observed between two readings, and the bucket bound under which `share` of them are. */
export function quantileBound(
  from: Buckets,
  to: Buckets,
  share: number,
): { count: number; boundSeconds: number } {
  const bounds = [...to.keys()].sort((a, b) => a - b);
  const inWindow = (le: number) => (to.get(le) ?? 0) - (from.get(le) ?? 0);
  const count = inWindow(Infinity);
  const boundSeconds = bounds.find((le) => inWindow(le) >= share * count) ?? Infinity;
  return { count, boundSeconds };
}
