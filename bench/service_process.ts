// The service under test: a process of its own, started the way `make run` starts it
// (main.js all), on a free port, with the benchmark's DATABASE_URL and REDIS_URL.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { connect } from './http_client';

export interface ServiceOptions {
  repoRoot: string;
  databaseUrl: string;
  redisUrl: string;
  /** Extra node flags, e.g. --cpu-prof. */
  nodeArgs?: string[];
  /** API_WORKERS for the service (default 1). */
  apiWorkers?: number;
}

export interface ServiceProcess {
  host: string;
  port: number;
  pid: number;
  /** Lines the service logged at warn or above (LOG_LEVEL=warn), for the report. */
  warnings(): string[];
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 60_000;

export async function startService(options: ServiceOptions): Promise<ServiceProcess> {
  const main = path.join(options.repoRoot, 'dist/src/allocation/entrypoints/main.js');
  const port = await freePort();
  const host = '127.0.0.1';
  // the same node flags as `make run` (package.json's start script): a small young generation and
  // a heap ceiling keep RSS near 100 MB instead of letting V8 grow the heap lazily to ~170 MB
  const flags = [
    '--max-semi-space-size=4',
    '--max-old-space-size=128',
    ...(options.nodeArgs ?? []),
  ];
  const child = spawn(process.execPath, [...flags, main, 'all'], {
    cwd: options.repoRoot,
    env: {
      ...process.env,
      DATABASE_URL: options.databaseUrl,
      REDIS_URL: options.redisUrl,
      API_HOST: host,
      API_PORT: String(port),
      LOG_LEVEL: 'warn',
      // One process unless asked: the targets (RSS included) are per process; scale-out is
      // measured separately.
      API_WORKERS: String(options.apiWorkers ?? 1),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let partial = '';
  const collect = (chunk: Buffer): void => {
    const text = partial + chunk.toString();
    const parts = text.split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) if (line.trim() !== '' && lines.length < 10_000) lines.push(line);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  await waitUntilReady(child, host, port, () => lines.slice(-20).join('\n'));
  return {
    host,
    port,
    pid: child.pid as number,
    warnings: () => [...lines],
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function waitUntilReady(
  child: ChildProcess,
  host: string,
  port: number,
  output: () => string,
): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`the service exited before it was ready:\n${output()}`);
    }
    const status = await connect('raw', { host, port }).then(
      async (connection) => {
        try {
          return (await connection.request('GET', '/readyz')).status;
        } finally {
          connection.close();
        }
      },
      () => 0,
    );
    if (status === 200) return;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the service was not ready within ${READY_TIMEOUT_MS} ms:\n${output()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface RssPeak {
  /** Largest total over the process and its descendants (cluster workers), MB. */
  totalMb: number;
  /** Largest single process, MB. */
  largestMb: number;
  /** Most processes seen at once. */
  processes: number;
}

/**
 * Samples the resident memory of a process and its descendants (the service may fork API
 * workers) from /proc every `everyMs`; `stop()` returns the peaks.
 */
export function sampleRss(pid: number, everyMs = 100): { stop(): RssPeak } {
  const peak: RssPeak = { totalMb: 0, largestMb: 0, processes: 0 };
  const sample = (): void => {
    const each = treeRssKb(pid);
    peak.totalMb = Math.max(peak.totalMb, each.reduce((a, b) => a + b, 0) / 1024);
    peak.largestMb = Math.max(peak.largestMb, ...each.map((kb) => kb / 1024));
    peak.processes = Math.max(peak.processes, each.length);
  };
  sample();
  const timer = setInterval(sample, everyMs);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return peak;
    },
  };
}

/** VmRSS (kB) of `pid` and of each of its descendants. */
export function treeRssKb(pid: number): number[] {
  const found: number[] = [];
  const pending = [pid];
  while (pending.length > 0) {
    const current = pending.pop() as number;
    try {
      const status = readFileSync(`/proc/${current}/status`, 'utf8');
      found.push(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0));
      const children = readFileSync(`/proc/${current}/task/${current}/children`, 'utf8');
      for (const child of children.split(/\s+/)) if (child) pending.push(Number(child));
    } catch {
      // gone, or no /proc: nothing to add
    }
  }
  return found;
}
