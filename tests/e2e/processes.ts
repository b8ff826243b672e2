// Real service processes for fault tests: started the way `make run` starts them, killed and
// restarted by the test. Loads are bounded in count; assertions are on counts, never timings.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { expect } from 'chai';
import { eventually } from '../eventually';

const MAIN = path.resolve(__dirname, '../../src/allocation/entrypoints/main.js');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

export interface ServiceProcess {
  url: string;
  port: number;
  child: ChildProcess;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  /** The process's stdout+stderr so far, for a failing test's message. */
  output(): string;
}

/**
 * Starts `main.js role` with the test run's DATABASE_URL / REDIS_URL (or `env`'s), on a free
 * port unless `env.API_PORT` is given, and waits until /healthz answers.
 */
export async function startServiceProcess(
  env: Record<string, string> = {},
  role: 'all' | 'api' | 'consumer' = 'all',
): Promise<ServiceProcess> {
  const port = env.API_PORT ? Number(env.API_PORT) : await freePort();
  const child = spawn(process.execPath, [MAIN, role], {
    env: {
      ...process.env,
      LOG_LEVEL: 'warn',
      OUTBOX_POLL_MS: '200',
      // one process unless a test asks for more: a SIGKILL then hits the process that serves
      API_WORKERS: '1',
      ...env,
      API_PORT: String(port),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  const url = `http://127.0.0.1:${port}`;
  if (role !== 'consumer') {
    await eventually(async () => {
      if (child.exitCode !== null) throw new Error(`service exited early:\n${output}`);
      const response = await fetch(`${url}/healthz`);
      if (response.status !== 200) throw new Error(`healthz ${response.status}`);
    }, 20_000);
  }
  return { url, port, child, exited, output: () => output };
}

export interface Outcome {
  status: number; // 0 when the request got no HTTP answer (connection refused or reset)
  body: unknown;
}

/** Sends every request with at most `concurrency` in flight; never throws. */
export async function sendAll(
  requests: { method: 'POST' | 'GET'; url: string; body?: unknown }[],
  concurrency: number,
  onEach?: (done: number) => void,
): Promise<Outcome[]> {
  const outcomes: Outcome[] = new Array<Outcome>(requests.length);
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < requests.length) {
      const i = next++;
      const r = requests[i];
      try {
        const response = await fetch(r.url, {
          method: r.method,
          headers: r.body === undefined ? {} : { 'content-type': 'application/json' },
          body: r.body === undefined ? undefined : JSON.stringify(r.body),
        });
        const text = await response.text();
        outcomes[i] = {
          status: response.status,
          body: text ? (JSON.parse(text) as unknown) : null,
        };
      } catch {
        outcomes[i] = { status: 0, body: null };
      }
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

/** Adds a warehouse batch through the API of a service process, expecting 201. */
export async function addBatch(url: string, ref: string, sku: string, qty: number): Promise<void> {
  const response = await fetch(`${url}/add_batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ref, sku, qty, eta: null }),
  });
  expect(response.status, await response.text()).to.equal(201);
}
